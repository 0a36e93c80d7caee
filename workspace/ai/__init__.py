"""The AI layer's pure parts (SPEC §5, §7): the model catalog (prices, windows, capabilities)
and model resolution. Provider clients are built by the runtime. See README.md."""

from workspace.ai.catalog import BUILTIN_MODELS, ModelCatalog, ModelInfo
from workspace.ai.resolution import Reach, ResolvedModel, resolve_model

__all__ = ["BUILTIN_MODELS", "ModelCatalog", "ModelInfo", "Reach", "ResolvedModel", "resolve_model"]
