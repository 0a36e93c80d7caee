"""Process helpers shared by tests that start real processes."""

from __future__ import annotations


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is dead for our purposes)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
