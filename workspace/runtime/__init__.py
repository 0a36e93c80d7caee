"""Composition root: wires a store, the node registry, the DSL and the engine into the
``Workspace`` facade that every surface (CLI, notebooks, chat, canvas) uses."""
