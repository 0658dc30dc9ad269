"""Script-agnostic tokenisation shared by the profiler, the scorer and the post-processor.

Everything here works on character classes and punctuation, never on word lists of one
language, so English, Russian and other scripts go through the same code.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter

# Combining marks (Indic vowel signs, Arabic harakat, accents) belong inside words, but
# Python's `\w` leaves them out. Symbol-combining marks (keycaps) and variation selectors
# are emoji machinery, so they stay out.
_MARKS = "".join(
    chr(cp)
    for cp in range(0x0300, 0x3000)
    if unicodedata.category(chr(cp)) in {"Mn", "Mc"} and not 0x20D0 <= cp <= 0x20FF
)
_MARK_CLASS = re.escape(_MARKS)
_ALNUM = rf"(?:[^\W_]|[{_MARK_CLASS}])"
_WORD_RE = re.compile(rf"{_ALNUM}+(?:['’\-]{_ALNUM}+)*")
_TAG_CHAR = rf"(?:\w|[{_MARK_CLASS}])"
_HASHTAG_RE = re.compile(rf"(?<![\w&#/])#{_TAG_CHAR}*[^\W\d_]{_TAG_CHAR}*")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w+")

# Sentence terminators of several scripts: Latin/Cyrillic, CJK full-width, Arabic, Devanagari.
_TERMINATORS = ".!?…。！？؟।"
_END_RE = re.compile(rf"[{_TERMINATORS}]+[\"'»”’)\]]*(?=\s|$)")
_STRONG_TERMINATORS = frozenset("!?！？؟")
_NUMBERING_RE = re.compile(r"^\s*\d{1,3}[.)]$")
_PARAGRAPH_RE = re.compile(r"\n[^\S\n]*\n\s*")

_BULLETS = "-•*—–·▪▫►▸‣◦●○✓✔➤→"
_LIST_RE = re.compile(rf"^\s*(?:[{re.escape(_BULLETS)}]|\d{{1,3}}[.)])\s+\S")


def _char_ranges(codepoints: list[int]) -> str:
    """Compact regex class body ("a-z...") for a sorted list of code points."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -1]:
        if cp != prev + 1:
            parts.append(
                re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else "")
            )
            start = cp
        prev = cp
    return "".join(parts)


# Emoji bases: the pictograph planes, plus symbols ("So") from arrows up to CJK except box
# drawing and braille, which are layout; °, № and ™ sit below that range and only count when
# followed by the emoji presentation selector (U+FE0F), like any other character.
_SYMBOLS = _char_ranges(
    [
        cp
        for cp in range(0x2190, 0x2E80)
        if unicodedata.category(chr(cp)) == "So"
        and not 0x2500 <= cp <= 0x259F
        and not 0x2800 <= cp <= 0x28FF
    ]
)
_BASE = (
    rf"(?:[\U0001F000-\U0001F1E5\U0001F200-\U0001F3FA\U0001F400-\U0001FAFF"
    rf"{_SYMBOLS}\u3030\u303d\u3297\u3299]|[^\s0-9#*\ufe0e\ufe0f\u200d]\ufe0f)"
)
_MODIFIER = r"[\ufe0e\ufe0f\u20e3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]"
_EMOJI_RE = re.compile(
    r"[0-9#*]\ufe0f?\u20e3"  # keycaps: 1️⃣
    r"|[\U0001F1E6-\U0001F1FF]{1,2}"  # flags: pairs of regional indicators
    rf"|{_BASE}{_MODIFIER}*(?:\u200d{_BASE}{_MODIFIER}*)*"  # skin tones, ZWJ families
)


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; whitespace-only paragraphs are dropped."""
    return [part.strip() for part in _PARAGRAPH_RE.split(text.strip()) if part.strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Start/end offsets of each sentence, so callers can cut text without losing layout."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for match in _END_RE.finditer(line):
            if _continues(match.group(), line[start : match.start()], line[match.end() :]):
                continue
            _add_span(spans, line, offset, start, match.end())
            start = match.end()
        _add_span(spans, line, offset, start, len(line))
        offset += len(line) + 1
    return spans


def _continues(run: str, before: str, after: str) -> bool:
    """Whether a dot or ellipsis is not a sentence end: list numbers, abbreviations, lowercase."""
    if _STRONG_TERMINATORS.intersection(run):
        return False
    if run == "." and (_NUMBERING_RE.match(before + run) or _is_abbreviation(before)):
        return True
    rest = after.lstrip()
    return bool(rest) and rest[0].islower()


def _is_abbreviation(before: str) -> bool:
    """Dotted short forms ("e.g", "т.е", "U.S") and single capital initials ("A")."""
    token = before.rsplit(maxsplit=1)[-1].lstrip("(") if before.strip() else ""
    if len(token) == 1:
        return token.isupper()
    parts = token.split(".")
    return len(parts) > 1 and all(0 < len(part) <= 2 and part.isalpha() for part in parts)


def _add_span(spans: list[tuple[int, int]], line: str, offset: int, start: int, end: int) -> None:
    segment = line[start:end]
    stripped = segment.strip()
    if stripped:
        lead = len(segment) - len(segment.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


def split_sentences(text: str) -> list[str]:
    """Sentences end at terminal punctuation runs (. ! ? … and CJK/Arabic forms) or a line end."""
    return [text[start:end] for start, end in sentence_spans(text)]


def words(text: str) -> list[str]:
    """Lowercased words of any script; hashtags, mentions and URLs are not words."""
    cleaned = _MENTION_RE.sub(" ", _HASHTAG_RE.sub(" ", _URL_RE.sub(" ", text)))
    return [word.lower() for word in _WORD_RE.findall(cleaned)]


def find_hashtags(text: str) -> list[str]:
    """Hashtags as written (with '#'), letters of any script; '#1' is a number, not a tag."""
    return [match.group() for match in _HASHTAG_RE.finditer(_URL_RE.sub(" ", text))]


def hashtag_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of each hashtag, for callers that remove some of them."""
    return [match.span() for match in _HASHTAG_RE.finditer(text)]


def is_list_line(line: str) -> bool:
    """Bullets (-, •, *, —), numbering ("1." / "1)") or a leading emoji used as a bullet."""
    if _LIST_RE.match(line):
        return True
    stripped = line.lstrip()
    spans = emoji_spans(stripped)
    if not spans or spans[0][0] != 0:
        return False
    rest = stripped[spans[0][1] :]
    return rest[:1].isspace() and bool(words(rest))


def find_emojis(text: str) -> list[str]:
    """Emojis, with ZWJ sequences, skin tones, flags and keycaps each counted as one."""
    return _EMOJI_RE.findall(text)


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of each emoji sequence, for callers that remove some of them."""
    return [match.span() for match in _EMOJI_RE.finditer(text)]


# Script ranges (start, end inclusive, script). Letters outside them count as "other".
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"),
    (0x0D80, 0x0DFF, "sinhala"),
    (0x0E00, 0x0E7F, "thai"),
    (0x0E80, 0x0EFF, "lao"),
    (0x1000, 0x109F, "myanmar"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x1200, 0x139F, "ethiopic"),
    (0x1780, 0x17FF, "khmer"),
    (0x1E00, 0x1EFF, "latin"),
    (0x1F00, 0x1FFF, "greek"),
    (0x3040, 0x309F, "kana"),
    (0x30A0, 0x30FF, "kana"),
    (0x3130, 0x318F, "hangul"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"),
    (0xFF66, 0xFF9F, "kana"),
)
_RANGE_STARTS = [start for start, _, _ in _SCRIPT_RANGES]

_SCRIPT_LANGUAGE = {
    "greek": "el",
    "armenian": "hy",
    "hebrew": "he",
    "devanagari": "hi",
    "bengali": "bn",
    "gurmukhi": "pa",
    "gujarati": "gu",
    "tamil": "ta",
    "telugu": "te",
    "kannada": "kn",
    "malayalam": "ml",
    "sinhala": "si",
    "thai": "th",
    "lao": "lo",
    "myanmar": "my",
    "georgian": "ka",
    "hangul": "ko",
    "ethiopic": "am",
    "khmer": "km",
}

# Letters that single out one language within a shared script. Checked in order; the first
# language whose letters make up at least _MARKER_SHARE of the script's letters wins.
_CYRILLIC_MARKERS = (("be", "ў"), ("kk", "әғқңөұүһ"), ("uk", "іїєґ"), ("sr", "ђћџљњј"))
_LATIN_MARKERS = (
    ("de", "ßäöü"),
    ("es", "ñ¿¡"),
    ("pt", "ãõ"),
    ("pl", "łąęśźżń"),
    ("cs", "řěůčď"),
    ("tr", "ğışİ"),
    ("hu", "őű"),
    ("ro", "ășțş"),
    ("vi", "đơư"),
    ("fr", "çœèêëîû"),
    ("it", "ìò"),
    ("sv", "å"),
    ("da", "øæ"),
)
_ARABIC_MARKERS = (("ur", "ٹڈڑںے"), ("fa", "پچژگک"))
_MARKER_SHARE = 0.01


def _script_of(char: str) -> str:
    cp = ord(char)
    index = bisect_right(_RANGE_STARTS, cp) - 1
    if index >= 0:
        start, end, script = _SCRIPT_RANGES[index]
        if start <= cp <= end:
            return script
    return "other"


def detect_language(text: str) -> str:
    """ISO 639-1 code from the dominant script (plus telltale letters); "und" without letters."""
    scripts: Counter[str] = Counter()
    letters: Counter[str] = Counter()
    # Counting characters first keeps the per-character Python work to the distinct ones.
    for char, count in Counter(text).items():
        if char.isalpha():
            scripts[_script_of(char)] += count
            letters[char.lower()] += count
    if not scripts:
        return "und"
    script, count = scripts.most_common(1)[0]
    if script == "cyrillic":
        return _by_markers(letters, count, _CYRILLIC_MARKERS, "ru")
    if script == "latin":
        return _by_markers(letters, count, _LATIN_MARKERS, "en")
    if script == "arabic":
        return _by_markers(letters, count, _ARABIC_MARKERS, "ar")
    if script in {"han", "kana"}:
        # Japanese mixes kana into kanji text; Chinese has none.
        return "ja" if scripts["kana"] >= 0.1 * (scripts["kana"] + scripts["han"]) else "zh"
    return _SCRIPT_LANGUAGE.get(script, "und")


def _by_markers(
    letters: Counter[str], total: int, markers: tuple[tuple[str, str], ...], default: str
) -> str:
    for language, chars in markers:
        if sum(letters[char] for char in chars) >= max(1.0, _MARKER_SHARE * total):
            return language
    return default
