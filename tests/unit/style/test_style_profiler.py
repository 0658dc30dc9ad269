"""Profiles: the numbers the prompt and the scorer rely on, on normal and odd input."""

import msgspec
import pytest

from shared.style import Sample, StyleProfile, build_profile, representative_samples
from tests.unit.style.fixtures import DMITRY, HARTLEY, KATYA, MAYA, OLYA, SAM


def test_empty_samples_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        build_profile([])


def test_emoji_only_post_gives_a_finite_profile() -> None:
    profile = build_profile([Sample("instagram", "🔥🔥🔥 👩🏽‍💻")])
    assert profile.language == "und"
    assert profile.top_emojis == ["🔥", "👩🏽‍💻"]
    assert profile.avg_sentence_words == 0
    assert profile.question_rate == 0
    assert profile.signature_phrases == []
    assert all(0 <= value <= 1 for value in profile.tone.values())


def test_one_word_post() -> None:
    profile = build_profile([Sample("x", "Привет")])
    assert profile.language == "ru"
    assert profile.avg_sentence_words == 1
    assert profile.avg_paragraphs == 1
    assert profile.avg_length == len("Привет")
    assert profile.list_usage == 0


def test_explicit_language_wins_over_detection() -> None:
    assert build_profile(MAYA, language="es").language == "es"


def test_profiles_reflect_each_authors_habits() -> None:
    maya, hartley, dmitry = build_profile(MAYA), build_profile(HARTLEY), build_profile(DMITRY)
    sam, olya, katya = build_profile(SAM), build_profile(OLYA), build_profile(KATYA)
    assert maya.emoji_per_100_words > 10 > hartley.emoji_per_100_words == 0
    assert maya.hashtags_per_post > 2
    assert dmitry.hashtags_per_post == 0
    assert "#goodvibesonly" in maya.top_hashtags
    assert "✨" in maya.top_emojis
    assert dmitry.list_usage > 0.5 > maya.list_usage
    assert dmitry.avg_length > 1.5 * olya.avg_length
    assert sam.question_rate > 0.5 > maya.question_rate
    assert olya.tone["inquisitive"] > katya.tone["inquisitive"]
    assert katya.tone["energy"] > dmitry.tone["energy"]
    assert hartley.tone["formality"] > maya.tone["formality"]
    assert hartley.avg_word_chars > sam.avg_word_chars
    maya_tags = {name: habits.hashtags_per_post for name, habits in maya.platforms.items()}
    assert maya_tags["instagram"] > maya_tags["facebook"]
    assert set(dmitry.platforms) == {"telegram", "facebook"}
    assert dmitry.platforms["telegram"].sample_count == 5


def test_profile_survives_json_storage() -> None:
    profile = build_profile(MAYA)
    stored = msgspec.json.encode(profile)
    assert msgspec.json.decode(stored, type=StyleProfile) == profile


def test_signature_phrases_are_repeated_ngrams_across_posts() -> None:
    dmitry = build_profile(DMITRY).signature_phrases
    assert "короче говоря" in dmitry
    assert "и вот тут начинается самое интересное" in dmitry
    assert "the lesson is simple" in build_profile(HARTLEY).signature_phrases
    # Made only of words of three letters or fewer: indistinguishable from glue.
    assert "а у вас как" not in build_profile(OLYA).signature_phrases
    assert len(dmitry) <= 8


def test_signature_phrases_need_two_posts_and_skip_glue_words() -> None:
    samples = [
        Sample("x", "Ship it today. Ship it today. It is in the bag."),
        Sample("x", "It is in the bag, and we ship small batches daily."),
        Sample("x", "We ship small batches daily because it is in the bag."),
    ]
    phrases = build_profile(samples).signature_phrases
    assert "we ship small batches daily" in phrases
    # Repeated twice but in one post only.
    assert "ship it today" not in phrases
    # Everywhere, but made only of short tokens.
    assert not any(phrase in "it is in the bag" for phrase in phrases)


def test_representative_samples_prefer_the_platform_and_stay_within_two_to_five() -> None:
    samples = [post for posts in (DMITRY, OLYA) for post in posts]
    profile = build_profile(DMITRY)
    chosen = representative_samples(samples, profile, "telegram", k=3)
    assert len(chosen) == 3
    assert all(post in DMITRY and post.platform == "telegram" for post in chosen)
    assert len(representative_samples(samples, profile, "telegram", k=1)) == 2
    assert len(representative_samples(samples, profile, "telegram", k=9)) == 5
    assert representative_samples(samples, profile, "telegram") == chosen


def test_representative_samples_avoid_posts_too_long_for_the_platform() -> None:
    short = Sample("telegram", "Коротко: " + "очень коротко. " * 10)
    long = Sample("telegram", "Длинно: " + "очень длинный рассказ. " * 20)
    chosen = representative_samples([long, short], build_profile([long, short]), "x", k=2)
    assert chosen[0] == short
