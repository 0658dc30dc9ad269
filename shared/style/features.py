"""Measurements of one post, taken once and shared by the profiler and the scorer.

Keeping both on the same numbers means a post scores against a profile exactly as it would
have contributed to it.
"""

from __future__ import annotations

import msgspec

from shared.style.text import (
    find_emojis,
    find_hashtags,
    is_list_line,
    split_paragraphs,
    split_sentences,
    words,
)

_QUESTION_MARKS = frozenset("?？؟")
_EXCLAMATION_MARKS = frozenset("!！")
# Marks of clause-heavy, formal writing (the profile relates them to the sentence count).
_CLAUSE_MARKS = frozenset(",;:()，；：")
# Trailing characters to look past when reading how a sentence ends ("Really?! 🤔", "«Да?»").
_TRAILING = "\"'»”’)] \u200d\ufe0f"


class TextFeatures(msgspec.Struct, frozen=True):
    """Counts and shapes of one post."""

    chars: int
    words: tuple[str, ...]
    sentence_words: tuple[tuple[str, ...], ...]
    paragraphs: int
    has_list: bool
    emojis: tuple[str, ...]
    hashtags: tuple[str, ...]
    questions: int
    exclamations: int
    clause_marks: int
    caps_words: int
    ends_with_question: bool

    @property
    def sentence_count(self) -> int:
        return len(self.sentence_words)


def measure(text: str) -> TextFeatures:
    """Measure a post; sentences without words (emoji or hashtag lines) are not sentences."""
    text = text.strip()
    sentences: list[tuple[str, ...]] = []
    questions = exclamations = 0
    last_is_question = False
    for sentence in split_sentences(text):
        tokens = tuple(words(sentence))
        if not tokens:
            continue
        sentences.append(tokens)
        ending = _ending(sentence)
        last_is_question = bool(_QUESTION_MARKS.intersection(ending))
        questions += last_is_question
        exclamations += bool(_EXCLAMATION_MARKS.intersection(ending))
    lines = text.splitlines()
    return TextFeatures(
        chars=len(text),
        words=tuple(token for tokens in sentences for token in tokens),
        sentence_words=tuple(sentences),
        paragraphs=len(split_paragraphs(text)),
        # One bulleted line is an opener; a list needs at least two items.
        has_list=sum(is_list_line(line) for line in lines) >= 2,
        emojis=tuple(find_emojis(text)),
        hashtags=tuple(tag.lower() for tag in find_hashtags(text)),
        questions=questions,
        exclamations=exclamations,
        clause_marks=sum(char in _CLAUSE_MARKS for char in text),
        caps_words=sum(_is_shouted(word) for word in text.split()),
        ends_with_question=last_is_question,
    )


def _is_shouted(token: str) -> bool:
    """All-caps words of four letters or more; shorter ones are mostly acronyms (CEO, API)."""
    core = token.strip(".,!?:;\"'«»()…—-")
    return len(core) >= 4 and core.isalpha() and core.isupper()


def _ending(sentence: str) -> str:
    """The run of punctuation a sentence ends with, ignoring quotes, brackets and emojis."""
    body = sentence.rstrip(_TRAILING)
    for emoji in reversed(find_emojis(body)):
        if body.endswith(emoji):
            body = body[: -len(emoji)].rstrip(_TRAILING)
    stripped = body.rstrip("?!.…？！؟")
    return body[len(stripped) :]
