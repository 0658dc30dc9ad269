"""How many hashtags and emojis a post may carry, shared by the prompt and the post-processor.

The prompt announces the same budget the post-processor later enforces, so a model that
follows the prompt loses nothing in post-processing.
"""

from __future__ import annotations

import math

from shared.style.models import StyleProfile
from shared.style.platforms import PlatformRules

# Below this many emojis per 100 words the author is treated as not using emojis at all.
NO_EMOJI_DENSITY = 0.25


def hashtag_budget(rules: PlatformRules, profile: StyleProfile | None) -> int:
    """The platform's maximum, lowered to the author's habit there (rounded up)."""
    if profile is None:
        return rules.max_hashtags
    habit = profile.habits_on(rules.name).hashtags_per_post
    return min(rules.max_hashtags, max(math.ceil(habit), 0))


def emoji_density_cap(rules: PlatformRules, profile: StyleProfile | None) -> float:
    """Emojis allowed per 100 words: the platform's cap and about twice the author's density."""
    if profile is None:
        return rules.max_emojis_per_100_words
    density = profile.habits_on(rules.name).emoji_per_100_words
    if density < NO_EMOJI_DENSITY:
        return 0.0
    return min(rules.max_emojis_per_100_words, 2 * density)


def emoji_budget(rules: PlatformRules, profile: StyleProfile | None, word_count: int) -> int:
    """Emojis allowed in a post of `word_count` words; at least one unless the author uses none."""
    cap = emoji_density_cap(rules, profile)
    if cap == 0:
        return 0
    return max(1, math.ceil(cap * word_count / 100))
