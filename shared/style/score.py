"""How closely a text matches an author's profile, feature by feature.

Every feature is a smooth 0-1 similarity (1 = same habit), so a small drift costs a little
and the overall score ranks candidate texts and authors sensibly.
"""

from __future__ import annotations

import math

import msgspec

from shared.style.features import TextFeatures, measure
from shared.style.models import StyleProfile
from shared.style.phrases import count_phrases
from shared.style.platforms import Platform
from shared.style.stats import aggregate
from shared.style.text import detect_language

# Relative weights in the overall score. Language and the per-sentence habits (sentence and
# word length, emojis) identify an author best; single-post rates (questions) are noisy.
WEIGHTS: dict[str, float] = {
    "language": 2.0,
    "length": 1.0,
    "sentence_length": 1.5,
    "sentence_variation": 0.5,
    "paragraphs": 1.0,
    "lists": 0.75,
    "emojis": 1.5,
    "hashtags": 1.0,
    "questions": 1.0,
    "exclamations": 1.0,
    "tone": 1.0,
    "vocabulary": 1.5,
    "word_length": 1.5,
}


class StyleScore(msgspec.Struct):
    """Overall match (weighted mean) and each feature's similarity, all 0-1."""

    overall: float
    features: dict[str, float]


def score(text: str, profile: StyleProfile, platform: Platform | None = None) -> StyleScore:
    """Score a text against a profile; the platform picks the author's habits on that network."""
    post = measure(text)
    stats = aggregate([post])
    habits = profile.habits_on(platform)
    features = {
        "language": _language_match(text, profile.language),
        "length": _ratio(post.chars, habits.avg_length, smooth=20),
        "sentence_length": _sentence_length(post, stats.avg_sentence_words, profile),
        "sentence_variation": _ratio(
            stats.sentence_words_std, profile.sentence_words_std, smooth=2
        ),
        "paragraphs": _ratio(post.paragraphs, habits.avg_paragraphs, smooth=0.5),
        "lists": 1 - abs(float(post.has_list) - profile.list_usage),
        "emojis": _ratio(stats.emoji_per_100_words, habits.emoji_per_100_words, smooth=1),
        "hashtags": _ratio(len(post.hashtags), habits.hashtags_per_post, smooth=0.5),
        "questions": _closeness(stats.question_rate, profile.question_rate, scale=0.25),
        "exclamations": _closeness(stats.exclamation_rate, profile.exclamation_rate, scale=0.25),
        "tone": _tone(stats.tone, profile.tone),
        "vocabulary": _vocabulary(post, profile),
        "word_length": _ratio(stats.avg_word_chars, profile.avg_word_chars, smooth=0, power=3),
    }
    rounded = {name: round(value, 4) for name, value in features.items()}
    overall = sum(WEIGHTS[name] * value for name, value in features.items()) / sum(WEIGHTS.values())
    return StyleScore(overall=round(overall, 4), features=rounded)


def _ratio(value: float, target: float, smooth: float, power: float = 1.0) -> float:
    """exp(-power * |log ratio|): 1 when equal, 0.5 at a 2x gap (power 1); smooth tames zeros."""
    a, b = value + smooth, target + smooth
    if a <= 0 or b <= 0:
        return 1.0 if a == b else 0.0
    return math.exp(-power * abs(math.log(a / b)))


def _closeness(value: float, target: float, scale: float) -> float:
    """Similarity of two rates: 1 when equal, 1/e when `scale` apart."""
    return math.exp(-abs(value - target) / scale)


def _sentence_length(post: TextFeatures, mean: float, profile: StyleProfile) -> float:
    """Gap in mean sentence length, measured in the author's spread of a post's mean."""
    if not post.sentence_count:
        return 0.0
    spread = profile.sentence_words_std / math.sqrt(post.sentence_count) + 1
    return math.exp(-0.5 * ((mean - profile.avg_sentence_words) / spread) ** 2)


def _tone(text_tone: dict[str, float], profile_tone: dict[str, float]) -> float:
    # Sorted, so the float sum is the same in every process whatever the hash seed.
    keys = sorted(profile_tone.keys() & text_tone.keys())
    if not keys:
        return 0.0
    return sum(1 - abs(text_tone[key] - profile_tone[key]) for key in keys) / len(keys)


def _vocabulary(post: TextFeatures, profile: StyleProfile) -> float:
    """Grows with each signature phrase, favourite hashtag or emoji the text shares."""
    hits: float = count_phrases(post, profile.signature_phrases)
    hits += 0.5 * len(set(post.hashtags) & set(profile.top_hashtags))
    hits += 0.5 * len(set(post.emojis) & set(profile.top_emojis))
    return 1 - math.exp(-hits)


def _language_match(text: str, language: str) -> float:
    detected = detect_language(text)
    if detected == "und":
        return 0.5
    return 1.0 if detected == language else 0.0
