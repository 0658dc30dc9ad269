"""Hard limits and house conventions of each social network we write for."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import msgspec

Platform = Literal["linkedin", "instagram", "facebook", "telegram", "x"]
PLATFORMS: tuple[Platform, ...] = ("linkedin", "instagram", "facebook", "telegram", "x")


class PlatformRules(msgspec.Struct, frozen=True):
    """What a post must respect (characters, hashtags) and should follow (conventions)."""

    name: Platform
    max_chars: int
    max_hashtags: int
    max_emojis_per_100_words: float
    conventions: tuple[str, ...]


_RULES = (
    PlatformRules(
        name="linkedin",
        max_chars=3000,
        max_hashtags=5,
        max_emojis_per_100_words=5.0,
        conventions=(
            "Hook the reader in the first line; it is all they see before 'see more'.",
            "Keep paragraphs short, one to three sentences, separated by blank lines.",
            "A question at the end invites comments.",
        ),
    ),
    PlatformRules(
        name="instagram",
        max_chars=2200,
        max_hashtags=30,
        max_emojis_per_100_words=25.0,
        conventions=(
            "The caption supports a picture: open with a strong first line.",
            "Use line breaks between short blocks of text.",
            "Put hashtags together at the end, not inside sentences.",
        ),
    ),
    PlatformRules(
        name="facebook",
        max_chars=63206,
        max_hashtags=3,
        max_emojis_per_100_words=10.0,
        conventions=(
            "Write conversationally, as if talking to friends.",
            "Hashtags are rare on Facebook; use few or none.",
        ),
    ),
    PlatformRules(
        name="telegram",
        max_chars=4096,
        max_hashtags=5,
        max_emojis_per_100_words=10.0,
        conventions=(
            "Plain text without markdown: no asterisks, underscores or headings.",
            "Posts can be longer and more personal; structure them with paragraphs or lists.",
        ),
    ),
    PlatformRules(
        name="x",
        max_chars=280,
        max_hashtags=2,
        max_emojis_per_100_words=15.0,
        conventions=(
            "One idea per post, stated directly.",
            "No thread markers such as 1/ or 🧵; the post stands alone.",
        ),
    ),
)

RULES: Mapping[Platform, PlatformRules] = MappingProxyType({rule.name: rule for rule in _RULES})


def rules_for(platform: Platform) -> PlatformRules:
    """Rules of a platform; raises KeyError for a name outside PLATFORMS."""
    return RULES[platform]
