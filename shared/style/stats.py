"""Averages and tone over a set of measured posts: the numbers a profile is made of.

The scorer runs the same aggregation over a single post, so the post and the profile are
compared on identical definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from shared.style.features import TextFeatures


class Aggregate(msgspec.Struct, frozen=True):
    """Style numbers of one or more posts."""

    avg_length: float
    avg_sentence_words: float
    sentence_words_std: float
    avg_paragraphs: float
    list_usage: float
    emoji_per_100_words: float
    hashtags_per_post: float
    question_rate: float
    exclamation_rate: float
    avg_word_chars: float
    tone: dict[str, float]


def aggregate(posts: Sequence[TextFeatures]) -> Aggregate:
    """Pool posts: rates are per sentence or per 100 words over all posts, not averaged."""
    count = max(len(posts), 1)
    lengths = [len(tokens) for post in posts for tokens in post.sentence_words]
    sentences = max(len(lengths), 1)
    word_count = sum(len(post.words) for post in posts)
    per_100_words = 100.0 / max(word_count, 1)
    mean_sentence = sum(lengths) / sentences
    exclamation_rate = sum(post.exclamations for post in posts) / sentences
    question_rate = sum(post.questions for post in posts) / sentences
    emoji_density = sum(len(post.emojis) for post in posts) * per_100_words
    avg_word_chars = sum(len(word) for post in posts for word in post.words) / max(word_count, 1)
    shouted_density = sum(post.caps_words for post in posts) * per_100_words
    closing_questions = sum(post.ends_with_question for post in posts) / count
    clauses_per_sentence = sum(post.clause_marks for post in posts) / sentences
    return Aggregate(
        avg_length=sum(post.chars for post in posts) / count,
        avg_sentence_words=mean_sentence,
        sentence_words_std=math.sqrt(sum((n - mean_sentence) ** 2 for n in lengths) / sentences),
        avg_paragraphs=sum(post.paragraphs for post in posts) / count,
        list_usage=sum(post.has_list for post in posts) / count,
        emoji_per_100_words=emoji_density,
        hashtags_per_post=sum(len(post.hashtags) for post in posts) / count,
        question_rate=question_rate,
        exclamation_rate=exclamation_rate,
        avg_word_chars=avg_word_chars,
        tone=_tone(
            exclamation_rate=exclamation_rate,
            emoji_density=emoji_density,
            shouted_density=shouted_density,
            question_rate=question_rate,
            closing_questions=closing_questions,
            mean_sentence=mean_sentence,
            avg_word_chars=avg_word_chars,
            clauses_per_sentence=clauses_per_sentence,
        ),
    )


def _tone(
    *,
    exclamation_rate: float,
    emoji_density: float,
    shouted_density: float,
    question_rate: float,
    closing_questions: float,
    mean_sentence: float,
    avg_word_chars: float,
    clauses_per_sentence: float,
) -> dict[str, float]:
    """Three 0-1 tone scores; each scale's midpoint (0.5) is a typical social-media post."""
    energy = _saturate(2 * exclamation_rate + emoji_density / 8 + shouted_density / 2)
    inquisitive = (_saturate(question_rate / 0.2) + closing_questions) / 2
    formality = (
        _saturate(mean_sentence / 15)
        + _saturate(avg_word_chars / 5)
        + _saturate(clauses_per_sentence)
        + (1 - energy)
    ) / 4
    return {
        "energy": round(energy, 4),
        "inquisitive": round(inquisitive, 4),
        "formality": round(formality, 4),
    }


def _saturate(value: float) -> float:
    """Map 0..inf onto 0..1 smoothly: 0 stays 0, 1 becomes 0.5."""
    return value / (1 + value)
