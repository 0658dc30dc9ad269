"""Style engine: measure an author's voice, prompt for it, clean and score the result."""

from shared.style.platforms import PLATFORMS, RULES, Platform, PlatformRules, rules_for
from shared.style.postprocess import postprocess
from shared.style.profiler import (
    PlatformStyle,
    Sample,
    StyleProfile,
    build_profile,
    representative_samples,
)
from shared.style.prompt import TEMPLATE_VERSION, Prompt, build_prompt
from shared.style.score import StyleScore, score
from shared.style.text import (
    detect_language,
    find_emojis,
    find_hashtags,
    is_list_line,
    split_paragraphs,
    split_sentences,
    words,
)

__all__ = [
    "PLATFORMS",
    "RULES",
    "TEMPLATE_VERSION",
    "Platform",
    "PlatformRules",
    "PlatformStyle",
    "Prompt",
    "Sample",
    "StyleProfile",
    "StyleScore",
    "build_profile",
    "build_prompt",
    "detect_language",
    "find_emojis",
    "find_hashtags",
    "is_list_line",
    "postprocess",
    "representative_samples",
    "rules_for",
    "score",
    "split_paragraphs",
    "split_sentences",
    "words",
]
