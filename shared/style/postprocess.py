"""Clean a model's draft into a post that fits the platform and the author's habits.

Every step only removes or tidies text, and the steps repeat until nothing changes, so the
result is a fixed point: post-processing it again returns it unchanged.
"""

from __future__ import annotations

import re
import unicodedata

from shared.style.budgets import emoji_budget, hashtag_budget
from shared.style.models import StyleProfile
from shared.style.platforms import Platform, PlatformRules, rules_for
from shared.style.text import emoji_spans, hashtag_spans, sentence_spans, split_sentences, words

_MAX_PASSES = 5
_FENCE_RE = re.compile(r"^```[^\n]*\n(.*?)\n?```$", re.DOTALL)
_QUOTES = {'"': '"', "'": "'", "«": "»", "“": "”", "„": "“", "`": "`"}
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_HEADING_RE = re.compile(r"^#{1,6}[ \t]+", re.MULTILINE)
_SPACES_RE = re.compile(r"[^\S\n]{2,}|\t")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_TAG_LINE_RE = re.compile(r"(?:\n|^)((?:#[^\s#]+[^\S\n]*)+)$")
_CLOSING_PUNCTUATION = ".,!?;:…)»”"
_ELLIPSIS = "…"
# A sentence-boundary cut must keep at least this share of the limit, or a word-boundary cut
# with an ellipsis keeps more of the post.
_MIN_SENTENCE_CUT = 0.5


def postprocess(text: str, platform: Platform, profile: StyleProfile | None = None) -> str:
    """Tidy a draft and enforce budgets and the platform's character limit (never exceeded)."""
    rules = rules_for(platform)
    result = _clean(text, rules, profile)
    for _ in range(_MAX_PASSES):
        again = _clean(result, rules, profile)
        if again == result:
            break
        result = again
    return result


def _clean(text: str, rules: PlatformRules, profile: StyleProfile | None) -> str:
    text = _unwrap(unicodedata.normalize("NFC", text))
    text = _normalise_whitespace(_HEADING_RE.sub("", _BOLD_RE.sub(r"\1\2", text)))
    text = _drop_repeated_sentences(text)
    text = _normalise_whitespace(_limit_hashtags(text, hashtag_budget(rules, profile)))
    text = _limit_emojis(text, emoji_budget(rules, profile, len(words(text))))
    return _fit(_normalise_whitespace(text), rules.max_chars)


def _unwrap(text: str) -> str:
    """Remove code fences and quotes wrapped around the whole draft, however deeply nested."""
    text = text.strip()
    while True:
        fenced = _FENCE_RE.match(text)
        if fenced:
            text = fenced.group(1).strip()
            continue
        opening, inner = text[:1], text[1:-1]
        closing = _QUOTES.get(opening, "")
        # Only a pair with no other quote of its kind inside wraps the whole text.
        wrapped = bool(closing) and len(text) > 1 and text.endswith(closing)
        if wrapped and opening not in inner and closing not in inner:
            text = inner.strip()
            continue
        return text


def _normalise_whitespace(text: str) -> str:
    """Trim lines, collapse runs of spaces and allow at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()


def _drop_repeated_sentences(text: str) -> str:
    """Keep the first occurrence of each sentence that has words; later exact copies go."""
    seen: set[str] = set()
    lines: list[str] = []
    for line in text.split("\n"):
        sentences = split_sentences(line)
        kept: list[str] = []
        for sentence in sentences:
            if sentence not in seen or not words(sentence):
                kept.append(sentence)
            seen.add(sentence)
        if len(kept) == len(sentences):
            lines.append(line)
        elif kept:
            lines.append(" ".join(kept))
    return "\n".join(lines)


def _limit_hashtags(text: str, budget: int) -> str:
    """Drop hashtags past the budget; one inside a sentence loses only its '#'."""
    for start, end in reversed(hashtag_spans(text)[budget:]):
        line_end = text.find("\n", end)
        rest = text[end : len(text) if line_end < 0 else line_end]
        # A tag followed by words on its line is part of a sentence: keep the word.
        text = text[:start] + text[start + 1 :] if words(rest) else _remove(text, start, end)
    return text


def _limit_emojis(text: str, budget: int) -> str:
    """Drop emojis past the budget, keeping the first ones."""
    for start, end in reversed(emoji_spans(text)[budget:]):
        text = _remove(text, start, end)
    return text


def _remove(text: str, start: int, end: int) -> str:
    """Cut text[start:end] without leaving "word ." or gluing two words together."""
    before, after = text[:start], text[end:]
    if after[:1] and after[0] in _CLOSING_PUNCTUATION:
        before = before.rstrip(" ")
    elif before[-1:].isalnum() and after[:1].isalnum():
        before += " "
    return before + after


def _fit(text: str, limit: int) -> str:
    """Shorten to the limit, keeping a closing line of hashtags when it leaves room for text."""
    if len(text) <= limit:
        return text
    tags = _TAG_LINE_RE.search(text)
    if tags and len(tags.group(1)) + 2 <= limit * _MIN_SENTENCE_CUT:
        body = text[: tags.start()].rstrip()
        separator = text[len(body) : tags.start(1)]
        return _cut(body, limit - len(separator) - len(tags.group(1))) + separator + tags.group(1)
    return _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    """Cut at the last sentence end that fits, else at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    ends = [end for _, end in sentence_spans(text) if end <= limit]
    if ends and max(ends) >= limit * _MIN_SENTENCE_CUT:
        return text[: max(ends)].rstrip()
    room = limit - len(_ELLIPSIS)
    cut = room if text[room].isspace() else max(text.rfind(" ", 0, room), text.rfind("\n", 0, room))
    if cut <= 0:
        # No space to break at (CJK, a long URL): cut between characters, not inside one.
        cut = _character_boundary(text, room)
    return text[:cut].rstrip(" \n,;:—–-") + _ELLIPSIS


def _character_boundary(text: str, cut: int) -> int:
    """Move a cut back so it splits neither an emoji sequence nor a letter from its accents."""
    for start, end in emoji_spans(text):
        if start < cut < end:
            cut = start
    while cut > 0 and unicodedata.category(text[cut])[0] == "M":
        cut -= 1
    return cut
