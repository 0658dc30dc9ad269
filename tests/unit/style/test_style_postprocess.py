"""Post-processing: what the user sees published, so limits and budgets must hold."""

import pytest

from shared.style import PLATFORMS, RULES, Platform, build_profile, find_emojis, find_hashtags
from shared.style import postprocess as clean
from tests.unit.style.fixtures import AUTHORS, HARTLEY, MAYA, SAM

LONG_POST = "\n\n".join(post.text for posts in AUTHORS.values() for post in posts)


def test_platform_limits() -> None:
    assert {name: rules.max_chars for name, rules in RULES.items()} == {
        "x": 280,
        "linkedin": 3000,
        "instagram": 2200,
        "telegram": 4096,
        "facebook": 63206,
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_output_fits_the_platform_and_is_idempotent(platform: Platform) -> None:
    text = LONG_POST * 8
    once = clean(text, platform)
    assert 0 < len(once) <= RULES[platform].max_chars
    assert clean(once, platform) == once


@pytest.mark.parametrize("platform", PLATFORMS)
def test_idempotent_with_a_profile(platform: Platform) -> None:
    profile = build_profile(MAYA)
    once = clean(LONG_POST, platform, profile)
    assert clean(once, platform, profile) == once


def test_long_text_is_cut_at_a_sentence_boundary() -> None:
    sentences = [f"Point {i:02d} stands on its own, full stop." for i in range(20)]
    result = clean(" ".join(sentences), "x")
    fitting = max(n for n in range(len(sentences)) if len(" ".join(sentences[:n])) <= 280)
    assert result == " ".join(sentences[:fitting])


def test_one_long_sentence_is_cut_at_a_word_boundary_with_ellipsis() -> None:
    text = "word " * 100
    result = clean(text, "x")
    assert len(result) <= 280
    assert result.endswith("word…")


def test_text_without_spaces_is_cut_without_breaking_an_emoji() -> None:
    text = "界" * 278 + "👩🏽‍💻" * 3
    result = clean(text, "x")
    assert len(result) <= 280
    assert result == "界" * 278 + "…"


def test_closing_hashtags_survive_a_cut() -> None:
    body = " ".join(f"Sentence number {i} is here." for i in range(40))
    result = clean(body + "\n\n#one #two", "x")
    assert len(result) <= 280
    assert result.endswith(".\n\n#one #two")


def test_wrapping_quotes_fences_and_markdown_are_removed() -> None:
    draft = '```text\n"**Big news:** we shipped it.   Really."\n```'
    assert clean(draft, "telegram") == "Big news: we shipped it. Really."
    assert clean("«Кавычки» остаются, если «внутри» есть ещё", "telegram") == (
        "«Кавычки» остаются, если «внутри» есть ещё"
    )


def test_whitespace_is_normalised() -> None:
    draft = "  First   line.  \n\n\n\n\nSecond\tline.\r\nThird line.  "
    assert clean(draft, "facebook") == "First line.\n\nSecond line.\nThird line."


def test_text_is_nfc_normalised() -> None:
    decomposed = "Ёлка и café"  # Е + combining diaeresis, e + combining acute
    assert clean(decomposed, "telegram") == "Ёлка и café"


def test_repeated_sentences_are_removed_keeping_the_first() -> None:
    draft = (
        "We shipped the feature today. It was hard.\n\n"
        "We shipped the feature today. Thanks to the team!\n"
        "It was hard."
    )
    assert clean(draft, "linkedin") == (
        "We shipped the feature today. It was hard.\n\nThanks to the team!"
    )


def test_hashtags_are_capped_at_the_platform_maximum_from_the_end() -> None:
    result = clean("Short post about growth.\n\n#one #two #three #four", "x")
    assert find_hashtags(result) == ["#one", "#two"]
    assert result == "Short post about growth.\n\n#one #two"


def test_hashtags_follow_the_authors_habit() -> None:
    hartley = build_profile(HARTLEY)  # about two hashtags per LinkedIn post
    draft = "Strong #results this quarter.\n\n#leadership #strategy #growth #q3"
    assert find_hashtags(clean(draft, "linkedin", hartley)) == ["#results", "#leadership"]
    sam = build_profile(SAM)  # never uses hashtags: an inline tag keeps its word
    assert clean(draft, "facebook", sam) == "Strong results this quarter."


def test_emojis_are_removed_for_an_author_who_never_uses_them() -> None:
    hartley = build_profile(HARTLEY)
    draft = "Great quarter 🚀! Margins expanded 📈 and costs fell.\n\n✅ Growth\n✅ Discipline"
    assert clean(draft, "linkedin", hartley) == (
        "Great quarter! Margins expanded and costs fell.\n\nGrowth\nDiscipline"
    )


def test_emojis_are_capped_near_the_authors_density() -> None:
    maya = build_profile(MAYA)  # about 20 emojis per 100 words on Instagram
    draft = "Beach day " + "🌊" * 30 + " with friends and sunshine all day long!"
    result = clean(draft, "instagram", maya)
    assert 1 <= len(find_emojis(result)) <= 4
    assert result.startswith("Beach day 🌊")
    assert result.endswith("with friends and sunshine all day long!")
