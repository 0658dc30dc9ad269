"""Data shapes of the style engine: samples in, a profile out.

They live apart from the profiler so the scorer can use them while the profiler uses the
scorer (to pick representative samples) without an import cycle.
"""

from __future__ import annotations

import msgspec

from shared.style.platforms import Platform


class Sample(msgspec.Struct, frozen=True):
    """One post the author wrote, and where it was published."""

    platform: Platform
    text: str


class PlatformStyle(msgspec.Struct):
    """How the author's habits shift on one platform (length, layout, emojis, hashtags)."""

    sample_count: int
    avg_length: float
    avg_paragraphs: float
    emoji_per_100_words: float
    hashtags_per_post: float


class StyleProfile(msgspec.Struct):
    """Measured writing habits of one author; rates are 0-1, lengths are averages.

    `tone` holds three 0-1 scores derived from punctuation and layout, never from word lists:
    `energy` (exclamations, emojis, shouted words), `inquisitive` (questions, and posts that
    end on one) and `formality` (long sentences and words, clause punctuation, low energy).
    """

    language: str
    sample_count: int
    avg_length: float
    avg_sentence_words: float
    avg_paragraphs: float
    list_usage: float
    emoji_per_100_words: float
    hashtags_per_post: float
    question_rate: float
    exclamation_rate: float
    tone: dict[str, float]
    signature_phrases: list[str]
    top_emojis: list[str]
    top_hashtags: list[str]
    platforms: dict[str, PlatformStyle]
    sentence_words_std: float
    avg_word_chars: float

    def habits_on(self, platform: str | None) -> PlatformStyle:
        """The author's habits on a platform, or their overall habits where there are no samples."""
        if platform in self.platforms:
            return self.platforms[platform]
        return PlatformStyle(
            sample_count=0,
            avg_length=self.avg_length,
            avg_paragraphs=self.avg_paragraphs,
            emoji_per_100_words=self.emoji_per_100_words,
            hashtags_per_post=self.hashtags_per_post,
        )
