"""HTTP client of a Plait server (``/api/v1``) with the surface of the ``Workspace`` facade.

``RemoteWorkspace(url, key)`` offers the methods notebooks use (validate, save, save_step,
publish, export, graph, run, resume, cancel, get_run, runs, events, list_workflows) over REST;
it imports only the domain, the errors and httpx.
"""

from __future__ import annotations

from workspace.client.handle import RemoteRunHandle
from workspace.client.remote import RemoteReport, RemoteWorkspace, VersionInfo

__all__ = ["RemoteReport", "RemoteRunHandle", "RemoteWorkspace", "VersionInfo"]
