"""Notebook surface of Plait: ``%load_ext kernel_ext``.

Magics (see ``magics.py``): ``%plait connect [DIR | URL --key KEY]``, ``%%workflow NAME``,
``%%step NAME.STEP_ID``, ``%plait run|show|runs|publish|approve|reject``. In Python:
``kernel_ext.workspace()`` is the connected workspace and ``kernel_ext.view(run)`` a live
view of a run; a ``RunHandle`` left as a cell's value shows as that view too.

Also a jupyter-server extension (``kernel_ext.server``). Uses only the public ``workspace``
facade, the HTTP client, the domain and the errors. Importing this package does nothing else.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from kernel_ext.magics import PlaitMagics
    from kernel_ext.runview import RunView

    ipython.register_magics(PlaitMagics(ipython))
    formatter = ipython.display_formatter.mimebundle_formatter
    for name in ("workspace.runtime.handle.RunHandle", "workspace.client.handle.RemoteRunHandle"):
        module, _, cls = name.rpartition(".")
        formatter.for_type_by_name(
            module,
            cls,
            lambda handle, include=None, exclude=None: _remember(
                RunView(workspace(), handle.id)
            )._repr_mimebundle_(include=include, exclude=exclude),
        )


def unload_ipython_extension(ipython: Any) -> None:
    from kernel_ext import session

    session.disconnect()


def _remember(view: Any) -> Any:
    from kernel_ext.magics import views

    views.append(view)
    return view


def workspace() -> Any:
    """The connected workspace (``Workspace`` or ``RemoteWorkspace``), connecting on first use."""
    from kernel_ext import session

    return session.current()


def connect(target: str | None = None, *, key: str | None = None, inline: bool = False) -> Any:
    from kernel_ext import session

    return session.connect(target, key=key, inline=inline)


def view(run: Any, *, wait: bool = False, timeout_s: float = 60.0) -> Any:
    """A live view of a run (a handle or a run id) of the connected workspace."""
    from kernel_ext.runview import RunView

    run_id = run if isinstance(run, str) else run.id
    v = _remember(RunView(workspace(), run_id))
    if wait:
        v.wait(timeout_s)
    return v


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from kernel_ext.server import PlaitExtension

    return [{"module": "kernel_ext.server", "app": PlaitExtension}]
