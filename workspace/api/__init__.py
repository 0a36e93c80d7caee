"""The HTTP surface of Plait (FastAPI): ``/api/v1`` REST + events, ``/hooks``, health."""

from __future__ import annotations

from workspace.api.app import create_app

__all__ = ["create_app"]
