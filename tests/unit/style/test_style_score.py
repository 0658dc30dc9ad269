"""Scores: bounded, deterministic, fast, and higher for text that matches the author."""

from shared.style import build_profile, score
from tests.unit.style.fixtures import DMITRY, HARTLEY, KATYA, MAYA


def test_features_are_bounded_and_rounded() -> None:
    result = score(MAYA[0].text, build_profile(HARTLEY), "linkedin")
    assert 0 <= result.overall <= 1
    assert {"length", "emojis", "hashtags", "language", "vocabulary", "tone"} <= set(
        result.features
    )
    assert all(0 <= value <= 1 and round(value, 4) == value for value in result.features.values())


def test_matching_style_scores_higher_feature_by_feature() -> None:
    katya = build_profile(KATYA[1:])
    own = score(KATYA[0].text, katya, "instagram")
    other = score(DMITRY[0].text, katya, "instagram")
    assert own.overall > other.overall
    for feature in ("emojis", "hashtags", "length", "vocabulary", "tone"):
        assert own.features[feature] > other.features[feature], feature


def test_empty_or_emoji_only_text_scores_low_without_failing() -> None:
    profile = build_profile(HARTLEY)
    assert score(HARTLEY[0].text, profile, "linkedin").overall > 0.9
    assert score("", profile, "linkedin").overall < 0.5
    assert score("🚀🚀🚀", profile, "linkedin").overall < 0.5


def test_language_mismatch_is_penalised() -> None:
    profile = build_profile(HARTLEY)
    assert score(HARTLEY[0].text, profile).features["language"] == 1
    assert score(DMITRY[0].text, profile).features["language"] == 0


def test_platform_selects_the_authors_habits_there() -> None:
    maya = build_profile(MAYA)
    tweet = MAYA[4].text
    assert score(tweet, maya, "x").features["length"] > score(tweet, maya).features["length"]


def test_scoring_is_deterministic() -> None:
    profile = build_profile(DMITRY)
    first = score(DMITRY[0].text, profile, "telegram")
    for _ in range(10):
        assert score(DMITRY[0].text, profile, "telegram") == first
