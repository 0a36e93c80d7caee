"""The scripted mock LLM server (SPEC §7): OpenAI- and Anthropic-compatible HTTP that answers by
a script, for tests, demos and offline machines. See README.md in this folder."""

from workspace.mockllm.script import Rule, Script, load_script

__all__ = ["Rule", "Script", "load_script"]
