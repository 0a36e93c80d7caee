"""The ``plait`` command line (an entry point: imports the runtime facade, never the reverse)."""
