"""Tokenisation that every style number depends on, in English and Russian."""

import pytest

from shared.style import (
    detect_language,
    find_emojis,
    find_hashtags,
    is_list_line,
    split_paragraphs,
    split_sentences,
    words,
)


def test_english_sentences_split_on_runs_but_not_on_decimals_or_abbreviations() -> None:
    text = "Revenue grew 3.5 percent, e.g. in the U.S. market. Wow!!! Why?! Well… we'll see."
    assert split_sentences(text) == [
        "Revenue grew 3.5 percent, e.g. in the U.S. market.",
        "Wow!!!",
        "Why?!",
        "Well… we'll see.",
    ]


def test_russian_sentences_split_on_punctuation_and_line_breaks() -> None:
    text = (
        "Сегодня был трудный день, т.е. очень трудный. Почему? Потому что дедлайн!\n"
        "Рутина рождает творчество ✨\n"
        "А. С. Пушкин писал по 2.5 страницы в день…"
    )
    assert split_sentences(text) == [
        "Сегодня был трудный день, т.е. очень трудный.",
        "Почему?",
        "Потому что дедлайн!",
        "Рутина рождает творчество ✨",
        "А. С. Пушкин писал по 2.5 страницы в день…",
    ]


def test_numbered_list_items_stay_whole_sentences() -> None:
    assert split_sentences("1. Слушать больше\n2. Говорить меньше") == [
        "1. Слушать больше",
        "2. Говорить меньше",
    ]


def test_paragraphs_are_separated_by_blank_lines() -> None:
    assert split_paragraphs("One.\nStill one.\n\n \nTwo.\n\n\n\nThree.") == [
        "One.\nStill one.",
        "Two.",
        "Three.",
    ]


def test_words_are_lowercased_and_skip_hashtags_mentions_and_urls() -> None:
    text = "Code-review at Яндекс! #карьера @boss https://example.com/x don't"
    assert words(text) == ["code-review", "at", "яндекс", "don't"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("family 👨‍👩‍👧‍👦 here", ["👨‍👩‍👧‍👦"]),
        ("coder 👩🏽‍💻 and thumbs 👍🏻👍", ["👩🏽‍💻", "👍🏻", "👍"]),
        ("flags 🇷🇺🇺🇸 and 🏳️‍🌈", ["🇷🇺", "🇺🇸", "🏳️‍🌈"]),
        ("keycap 1️⃣ coffee ☕️ heart ❤️ sparkle ✨", ["1️⃣", "☕️", "❤️", "✨"]),
        ("no emoji: 25° № 5 ™ © — 1 + 2 → 3", []),
    ],
)
def test_emoji_sequences_count_as_one(text: str, expected: list[str]) -> None:
    assert find_emojis(text) == expected


def test_hashtags_in_any_script_but_not_numbers_or_anchors() -> None:
    text = "#карьера and #GrowthMindset, #2024_goals! Not #1, not a&#39; or site.com/#top"
    assert find_hashtags(text) == ["#карьера", "#GrowthMindset", "#2024_goals"]


@pytest.mark.parametrize(
    "line",
    ["- item", "• пункт", "* item", "— пункт", "1. First", "2) Second", "✅ Done", "1️⃣ Шаг"],
)
def test_list_lines(line: str) -> None:
    assert is_list_line(line)


@pytest.mark.parametrize("line", ["-5 degrees outside", "2024 was great", "🔥", "Plain text"])
def test_not_list_lines(line: str) -> None:
    assert not is_list_line(line)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Shipping beats planning. Every time.", "en"),
        ("Code review в продакшене — это не про критику, а про качество.", "ru"),
        ("Привіт! Це їжак, і він ґречний.", "uk"),
        ("Schöne Grüße aus München, wir sehen uns später.", "de"),
        ("Καλημέρα σε όλους", "el"),
        ("今日は東京で会議がありました", "ja"),
        ("我们今天在北京开会", "zh"),
        ("오늘 회의가 있었습니다", "ko"),
        ("🔥🔥🔥 2024 #!", "und"),
        ("", "und"),
    ],
)
def test_language_from_dominant_script(text: str, language: str) -> None:
    assert detect_language(text) == language
