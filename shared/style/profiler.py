"""Build an author's style profile from sample posts, and pick the samples that show it best."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from shared.style.features import TextFeatures, measure
from shared.style.models import PlatformStyle, Sample, StyleProfile
from shared.style.phrases import signature_phrases
from shared.style.platforms import Platform, rules_for
from shared.style.score import score
from shared.style.stats import aggregate
from shared.style.text import detect_language

__all__ = [
    "PlatformStyle",
    "Sample",
    "StyleProfile",
    "build_profile",
    "representative_samples",
]

TOP_FAVOURITES = 5
MIN_EXAMPLES, MAX_EXAMPLES = 2, 5
# Bonus for a sample from the requested platform, and penalty for one too long to post there,
# on the 0-1 style-score scale: enough to outrank a slightly closer sample from elsewhere.
_SAME_PLATFORM_BONUS = 0.15
_TOO_LONG_PENALTY = 0.3


def build_profile(samples: Sequence[Sample], language: str | None = None) -> StyleProfile:
    """Measure the author's habits; `language` overrides detection. Raises ValueError if empty."""
    if not samples:
        raise ValueError("a style profile needs at least one sample post")
    measured = [measure(sample.text) for sample in samples]
    overall = aggregate(measured)
    by_platform: dict[str, list[TextFeatures]] = {}
    for sample, post in zip(samples, measured, strict=True):
        by_platform.setdefault(sample.platform, []).append(post)
    return StyleProfile(
        language=language or detect_language("\n".join(sample.text for sample in samples)),
        sample_count=len(samples),
        avg_length=overall.avg_length,
        avg_sentence_words=overall.avg_sentence_words,
        avg_paragraphs=overall.avg_paragraphs,
        list_usage=overall.list_usage,
        emoji_per_100_words=overall.emoji_per_100_words,
        hashtags_per_post=overall.hashtags_per_post,
        question_rate=overall.question_rate,
        exclamation_rate=overall.exclamation_rate,
        tone=overall.tone,
        signature_phrases=signature_phrases(measured),
        top_emojis=_favourites(emoji for post in measured for emoji in post.emojis),
        top_hashtags=_favourites(tag for post in measured for tag in post.hashtags),
        platforms={name: _platform_style(posts) for name, posts in by_platform.items()},
        sentence_words_std=overall.sentence_words_std,
        avg_word_chars=overall.avg_word_chars,
    )


def _favourites(items: Iterable[str]) -> list[str]:
    return [item for item, _ in Counter(items).most_common(TOP_FAVOURITES)]


def _platform_style(posts: Sequence[TextFeatures]) -> PlatformStyle:
    stats = aggregate(posts)
    return PlatformStyle(
        sample_count=len(posts),
        avg_length=stats.avg_length,
        avg_paragraphs=stats.avg_paragraphs,
        emoji_per_100_words=stats.emoji_per_100_words,
        hashtags_per_post=stats.hashtags_per_post,
    )


def representative_samples(
    samples: Sequence[Sample], profile: StyleProfile, platform: Platform, k: int = 3
) -> list[Sample]:
    """The k (clamped to 2-5) distinct samples most typical of the author, best first.

    Samples from `platform` are preferred and ones too long to post there are avoided, so the
    examples in a prompt look like the post being asked for.
    """
    limit = rules_for(platform).max_chars
    unique = list(dict.fromkeys(sample for sample in samples if sample.text.strip()))

    def rank(sample: Sample) -> float:
        value = score(sample.text, profile, sample.platform).overall
        if sample.platform == platform:
            value += _SAME_PLATFORM_BONUS
        if len(sample.text.strip()) > limit:
            value -= _TOO_LONG_PENALTY
        return value

    count = min(max(k, MIN_EXAMPLES), MAX_EXAMPLES)
    # sorted() is stable, so equal ranks keep the caller's order and the choice is repeatable.
    return sorted(unique, key=rank, reverse=True)[:count]
