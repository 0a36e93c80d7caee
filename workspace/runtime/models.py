"""``ModelService``: turn a ``ModelSpec`` into a LangChain chat model (SPEC §5, §7).

Resolution (``workspace.ai.resolve_model``) sees the LLM credentials the workflow's owner may
use; the chosen credential is decrypted only here, into the client object, and never into a
record or an event (``ResolvedModel.describe()`` is what may be shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from workspace.ai import ModelCatalog, Reach, ResolvedModel, resolve_model
from workspace.domain.credentials import Credential, CredentialKind
from workspace.domain.ports import WorkflowRepository
from workspace.runtime.credentials import CredentialService
from workspace.sdk.models import ChatModel, ModelSpec

__all__ = ["ModelService", "WorkflowModels"]

_LLM_KINDS = {CredentialKind.OPENAI: "openai", CredentialKind.ANTHROPIC: "anthropic"}


def _reach(cred: Credential) -> Reach:
    models = cred.params.get("models")
    return Reach(
        name=cred.name,
        provider=_LLM_KINDS.get(cred.kind, cred.kind.value),
        models=tuple(str(m) for m in models) if isinstance(models, list) else None,
        default_model=str(cred.params["model"]) if cred.params.get("model") else None,
        demo=cred.demo,
    )


class ModelService:
    def __init__(self, credentials: CredentialService, catalog: ModelCatalog) -> None:
        self.credentials = credentials
        self.catalog = catalog

    def reach(self, owner: str | None) -> list[Reach]:
        """The LLM credentials a workflow of ``owner`` may use."""
        return [
            _reach(c)
            for c in self.credentials.list()
            if c.kind in _LLM_KINDS and (c.owner is None or c.owner == owner)
        ]

    def resolve(
        self, spec: ModelSpec | Mapping[str, Any], *, owner: str | None, default: Any = None
    ) -> ResolvedModel:
        spec = spec if isinstance(spec, ModelSpec) else ModelSpec.model_validate(spec)
        fallback = None
        if default is not None:
            fallback = (
                default if isinstance(default, ModelSpec) else ModelSpec.model_validate(default)
            )
        return resolve_model(spec, reach=self.reach(owner), catalog=self.catalog, default=fallback)

    def chat(
        self,
        spec: ModelSpec | Mapping[str, Any] | None,
        *,
        owner: str | None,
        default: Any = None,
        streaming: bool = False,
    ) -> ChatModel:
        """A ready LangChain chat model for ``spec`` (None: the default ``model:``)."""
        resolved = self.resolve(spec or {"inherit": True}, owner=owner, default=default)
        info = resolved.info

        def price(input_tokens: int, output_tokens: int) -> float | None:
            return None if info is None else info.cost(input_tokens, output_tokens)

        return ChatModel(
            client=self.client(resolved, owner=owner, streaming=streaming),
            described=resolved.describe(),
            price=price,
            context_window=info.context_window if info is not None else None,
        )

    def client(self, resolved: ResolvedModel, *, owner: str | None, streaming: bool) -> Any:
        cred, secret = self.credentials.reveal_for(resolved.credential, owner)
        params = resolved.params
        common: dict[str, Any] = {
            "api_key": SecretStr(secret),
            "max_retries": params.get("max_retries", 0),
            "timeout": params.get("timeout_s"),
        }
        if "temperature" in params:
            common["temperature"] = params["temperature"]
        if "max_tokens" in params:
            common["max_tokens"] = params["max_tokens"]
        if resolved.provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            return ChatAnthropic(
                model_name=resolved.model_name,
                base_url=cred.base_url,
                streaming=streaming,
                stream_usage=True,
                **common,
            )
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=resolved.model_name,
            base_url=cred.base_url,
            streaming=streaming,
            stream_usage=True,
            **common,
        )


class WorkflowModels:
    """The engine's :class:`~workspace.sdk.models.ModelSource`: models for a workflow, with
    the credentials its owner may use."""

    def __init__(self, service: ModelService, workflows: WorkflowRepository) -> None:
        self.service = service
        self.workflows = workflows
        self._owners: dict[str, str | None] = {}

    def chat(
        self,
        spec: ModelSpec | Mapping[str, Any] | None,
        *,
        workflow_id: str,
        default: Any,
        streaming: bool,
    ) -> ChatModel:
        if workflow_id not in self._owners:
            self._owners[workflow_id] = self.workflows.get_by_id(workflow_id).owner
        owner = self._owners[workflow_id]
        return self.service.chat(spec, owner=owner, default=default, streaming=streaming)
