"""Signature phrases: word n-grams an author repeats across posts.

No stop-word lists: an n-gram only qualifies when it recurs in different posts and holds a
word of at least _MIN_TOKEN_CHARS letters. That drops glue made only of short words ("of the",
"it is in the", "и в") in any language written with spaces; the price is that short-word
catchphrases ("а у вас как") are not detected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from shared.style.features import TextFeatures

_SIZES = (2, 3, 4)
_MIN_TOKEN_CHARS = 4
_MIN_POSTS = 2
TOP_PHRASES = 8

Gram = tuple[str, ...]


def ngrams(sentences: Iterable[Sequence[str]]) -> Iterable[Gram]:
    """Word n-grams (n=2..4) inside sentences, never spanning two of them."""
    for tokens in sentences:
        for size in _SIZES:
            for start in range(len(tokens) - size + 1):
                gram = tuple(tokens[start : start + size])
                if _substantial(gram):
                    yield gram


def _substantial(gram: Gram) -> bool:
    return any(len(token) >= _MIN_TOKEN_CHARS for token in gram)


def signature_phrases(posts: Sequence[TextFeatures], limit: int = TOP_PHRASES) -> list[str]:
    """Phrases found in at least two posts, most widespread first, longer before shorter.

    Each chosen phrase has words of its own: a candidate sharing a word with one already
    chosen is skipped, or joined to it when together they still occur in as many posts
    ("и вот тут начинается" + "тут начинается самое интересное").
    """
    posts_with: Counter[Gram] = Counter()
    uses: Counter[Gram] = Counter()
    for post in posts:
        grams = list(ngrams(post.sentence_words))
        uses.update(grams)
        posts_with.update(set(grams))
    candidates = sorted(
        (gram for gram, count in posts_with.items() if count >= _MIN_POSTS),
        key=lambda gram: (-posts_with[gram], -len(gram), -uses[gram], gram),
    )
    chosen: list[Gram] = []
    for gram in candidates:
        if len(chosen) == limit:
            break
        for index, other in enumerate(chosen):
            if set(other).isdisjoint(gram):
                continue
            joined = _join(other, gram)
            if joined and _post_count(posts, joined) == _post_count(posts, other):
                chosen[index] = joined
            break
        else:
            chosen.append(gram)
    return [" ".join(gram) for gram in chosen]


def _join(a: Gram, b: Gram) -> Gram | None:
    """The shortest phrase that starts with one n-gram and ends with the other, if they overlap."""
    for first, second in ((a, b), (b, a)):
        for overlap in range(min(len(first), len(second)) - 1, 0, -1):
            if first[-overlap:] == second[:overlap]:
                return first + second[overlap:]
    return None


def _post_count(posts: Sequence[TextFeatures], gram: Gram) -> int:
    return sum(count_phrases(post, [" ".join(gram)]) for post in posts)


def count_phrases(post: TextFeatures, phrases: Iterable[str]) -> int:
    """How many of the given phrases occur in the post (each counted once, within a sentence)."""
    sentences = [f" {' '.join(tokens)} " for tokens in post.sentence_words]
    return sum(any(f" {phrase} " in sentence for sentence in sentences) for phrase in phrases)
