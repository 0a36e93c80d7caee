"""The kernel's connection to a workspace: the local one (the ``Workspace`` facade on a folder
or database URL) or a remote server (``RemoteWorkspace`` over ``/api/v1`` with an API key)."""

from __future__ import annotations

from typing import Any

from workspace.client import RemoteWorkspace

_current: Any = None


def connect(target: str | None = None, *, key: str | None = None, inline: bool = False) -> Any:
    """Connect the kernel: ``http(s)://...`` needs ``key``; a folder or database URL (default:
    the ``PLAIT_*`` settings, else the current folder) opens it in this process."""
    global _current
    if target is not None and target.startswith(("http://", "https://")):
        if not key:
            from workspace.errors import ValidationError

            raise ValidationError(
                "a remote workspace needs an API key: %plait connect URL --key KEY",
                code="key_required",
            )
        ws: Any = RemoteWorkspace(target, key)
        ws.list_workflows()  # fails now, clearly, when the URL or the key is wrong
    else:
        from workspace import Workspace

        ws = Workspace.open(target, inline=inline)
    disconnect()
    _current = ws
    return ws


def disconnect() -> None:
    global _current
    if _current is not None:
        _current.close()
    _current = None


def current() -> Any:
    """The connected workspace (connecting with the defaults on first use)."""
    return _current if _current is not None else connect()


def describe(ws: Any) -> str:
    if isinstance(ws, RemoteWorkspace):
        return f"remote workspace {ws.url}"
    mode = "by the workers" if ws.remote else "in this kernel"
    return f"local workspace {ws.settings.workspace_dir} (runs {mode})"
