"""Model backends behind one `Provider` interface; `build_provider` picks one from settings."""

from collections.abc import Sequence

from workers.providers.base import (
    ChatMessage,
    GenerationHints,
    GenerationRequest,
    GenerationResult,
    Provider,
    ProviderError,
    ProviderErrorCode,
    Usage,
    classify,
    parse_retry_after,
)
from workers.providers.offline import OfflineProvider
from workers.providers.openai_backend import KeyRing, OpenAIProvider

__all__ = [
    "ChatMessage",
    "GenerationHints",
    "GenerationRequest",
    "GenerationResult",
    "KeyRing",
    "OfflineProvider",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "Usage",
    "build_provider",
    "classify",
    "parse_retry_after",
]


def build_provider(api_keys: Sequence[str], base_url: str | None, timeout: float) -> Provider:
    """OpenAI when any key is configured, otherwise the labelled offline backend."""
    keys = [key for key in api_keys if key.strip()]
    if keys:
        return OpenAIProvider(keys, base_url, timeout)
    return OfflineProvider()
