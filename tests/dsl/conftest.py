from __future__ import annotations

import pytest

from workspace.sdk import NodeRegistry

from .fakes import make_registry


@pytest.fixture
def reg() -> NodeRegistry:
    return make_registry()
