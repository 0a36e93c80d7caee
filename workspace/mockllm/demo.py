"""The demo of ``plait up --demo``: the bundled script of the scripted mock LLM and a demo
workflow that uses it through a credential labelled "demo (scripted)"."""

from __future__ import annotations

from importlib import resources

__all__ = ["DEMO_CREDENTIAL", "DEMO_SLUG", "demo_script_text", "demo_workflow_text"]

DEMO_CREDENTIAL = "demo"
DEMO_SLUG = "demo-assistant"
#: the mock checks no key; this is stored only because a credential needs a secret
DEMO_SECRET = "demo-scripted-not-a-real-key"


def demo_script_text() -> str:
    return resources.files("workspace.mockllm").joinpath("demo_script.yaml").read_text("utf-8")


def demo_workflow_text() -> str:
    return resources.files("workspace.mockllm").joinpath("demo_workflow.yaml").read_text("utf-8")
