"""A local stand-in for a model, used in development when no OpenAI key is configured.

It is not a language model: it cannot read the prompt, so it composes a post from
`GenerationHints` with fixed sentence frames (English and Russian; English otherwise), following
the rhythm of the author's samples (sentence lengths, line breaks, paragraph count) and their
signature phrases, emojis and hashtags at the samples' density. Output is deterministic per topic,
needs no network and never sleeps. Results say `backend="offline"`, `model="ghostpen-offline"`
so nothing downstream can mistake them for real generations.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, TypeVar

from workers.providers.base import GenerationHints, GenerationRequest, GenerationResult, Usage

MODEL = "ghostpen-offline"

Bucket = Literal["short", "medium", "long"]

_T = TypeVar("_T")
_Filler = Callable[[str], str]
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\n+")
_HASHTAG = re.compile(r"#\w+")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*\n")
_DEFAULT_RHYTHM: tuple[Bucket, ...] = ("medium", "short", "long", "medium")
_NEAREST: dict[Bucket, tuple[Bucket, ...]] = {
    "short": ("short", "medium", "long"),
    "medium": ("medium", "short", "long"),
    "long": ("long", "medium", "short"),
}
_DEFAULT_TARGET = 400
_MAX_EMOJIS = 5
_MAX_SENTENCES = 200  # only a bound on the loop; the length budget stops it first
_DEFAULT_PARAGRAPH_CHARS = 300
_RHYTHM_SPAN = 24  # sentences of the samples whose lengths the body repeats
_MIN_PARAGRAPH_CHARS = 80


class _Frames(NamedTuple):
    """Sentence frames for one language; `{topic}` is replaced, `{Topic}` capitalised."""

    hooks: tuple[str, ...]
    body: dict[Bucket, tuple[str, ...]]
    closings: tuple[str, ...]
    fallback_topic: str


_EN = _Frames(
    hooks=(
        "Let's talk about {topic}.",
        "{Topic}: what nobody tells you.",
        "I've been thinking about {topic} a lot lately.",
        "Here's my honest take on {topic}.",
        "A quick thought on {topic}.",
        "{Topic} is simpler than it looks.",
    ),
    body={
        "short": (
            "Start small.",
            "Simple beats clever.",
            "Most people skip this part.",
            "That changed everything for me.",
            "Consistency wins.",
            "It adds up.",
            "Nobody sees this part.",
            "Details matter here.",
        ),
        "medium": (
            "The first step with {topic} is usually the hardest one.",
            "I used to overthink {topic}; now I just start.",
            "What works for me is a small habit, repeated every day.",
            "Every mistake I made with {topic} taught me something useful.",
            "The boring part of {topic} is where the results come from.",
            "Ask the people who do it daily, not the loudest ones.",
            "Good enough today beats perfect next month.",
            "Write down what worked and do more of it.",
        ),
        "long": (
            "When I look back at the last year, {topic} is the one thing I wish I had taken "
            "seriously from the very beginning.",
            "The people who get good at {topic} are rarely the most talented ones; they are the "
            "ones who keep showing up when it gets dull.",
            "If you are just getting started with {topic}, pick one thing, do it for thirty "
            "days, and only then decide whether it works for you.",
            "Most advice about {topic} sounds great on paper and falls apart the first time a "
            "real deadline shows up.",
            "I tried the complicated version of {topic} first, and it took me months to admit "
            "that the plain version was better.",
            "The best thing about {topic} is that small improvements compound quietly until one "
            "day they are impossible to miss.",
        ),
    },
    closings=(
        "What's your take on {topic}?",
        "Curious how you approach this.",
        "Tell me what you would add.",
        "Have you tried it?",
    ),
    fallback_topic="today's topic",
)

# Russian frames quote the topic («…») so that any topic reads right without declension.
_RU = _Frames(
    hooks=(
        "Давайте поговорим о теме «{topic}».",
        "«{Topic}»: о чём обычно молчат.",
        "В последнее время много думаю про «{topic}».",
        "Честно о теме «{topic}».",
        "Короткая мысль про «{topic}».",
        "«{Topic}» проще, чем кажется.",
    ),
    body={
        "short": (
            "Начните с малого.",
            "Простое работает лучше.",
            "Этот шаг часто пропускают.",
            "Для меня это всё изменило.",
            "Регулярность решает.",
            "Мелочи складываются.",
            "Этого никто не видит.",
            "Здесь важны детали.",
        ),
        "medium": (
            "Первый шаг в теме «{topic}» обычно самый трудный.",
            "Раньше я слишком много думал, а теперь просто начинаю.",
            "Мне помогает маленькая привычка, повторённая каждый день.",
            "Каждая ошибка здесь чему-то меня научила.",
            "Результат рождается в самой скучной части работы.",
            "Спрашивайте тех, кто делает это каждый день, а не самых громких.",
            "Достаточно хорошо сегодня лучше, чем идеально через месяц.",
            "Записывайте, что сработало, и делайте больше этого.",
        ),
        "long": (
            "Оглядываясь на прошедший год, я понимаю, что к теме «{topic}» стоило отнестись "
            "серьёзно с самого начала.",
            "В теме «{topic}» выигрывают не самые талантливые, а те, кто продолжает приходить, "
            "когда становится скучно.",
            "Если вы только начинаете, выберите одну вещь, делайте её тридцать дней и только "
            "потом решайте, работает ли она.",
            "Большинство советов звучат отлично на бумаге и разваливаются при первом же "
            "настоящем дедлайне.",
            "Сначала я попробовал сложный путь и несколько месяцев не признавал, что простой "
            "вариант был лучше.",
            "Маленькие улучшения незаметно накапливаются, пока однажды их уже невозможно не "
            "заметить.",
        ),
    },
    closings=(
        "А как вы к этому относитесь?",
        "Интересно, как это устроено у вас.",
        "Что бы вы добавили?",
        "Пробовали так?",
    ),
    fallback_topic="сегодняшняя тема",
)

_FRAMES = {"en": _EN, "ru": _RU}


class _Style(NamedTuple):
    """The measurable habits of an author, read from their samples."""

    rhythm: tuple[Bucket, ...]
    paragraph_chars: int
    line_per_sentence: bool
    emojis: int
    hashtags: int


class _Dice:
    """Deterministic choices from a seed; hashing keeps them stable across Python versions."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._rolls = 0

    def below(self, n: int) -> int:
        self._rolls += 1
        digest = hashlib.blake2b(
            self._seed + self._rolls.to_bytes(4, "big"), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") % n

    def pick(self, options: Sequence[_T]) -> _T:
        return options[self.below(len(options))]


class OfflineProvider:
    """Composes a labelled placeholder post from the hints, without any model."""

    name = "offline"

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        hints = request.hints or _hints_from_prompt(request)
        text = compose(hints)
        prompt_chars = sum(len(message.content) for message in request.messages)
        return GenerationResult(
            text=text,
            model=MODEL,
            usage=Usage(
                prompt_tokens=math.ceil(prompt_chars / 4),
                completion_tokens=math.ceil(len(text) / 4),
            ),
            backend="offline",
        )

    async def aclose(self) -> None:
        """Nothing to release; present to satisfy `Provider`."""


def compose(hints: GenerationHints) -> str:
    """Build the post: hook, 1-3 body paragraphs of the author's size, signature, closing, tags."""
    frames = _FRAMES.get(_language(hints.language), _EN)
    topic = " ".join(hints.topic.split()).rstrip(".!?…:;,") or frames.fallback_topic
    dice = _Dice(topic)
    style = _read_style(hints)
    target = hints.target_length if hints.target_length > 0 else _DEFAULT_TARGET

    def fill(frame: str) -> str:
        return frame.format(topic=topic, Topic=topic[:1].upper() + topic[1:])

    hook = fill(dice.pick(frames.hooks))
    signature = _sentence(dice.pick(hints.signature_phrases)) if hints.signature_phrases else ""
    closing = fill(dice.pick(frames.closings)) if target >= 200 else ""
    tags = " ".join(hints.top_hashtags[: style.hashtags])
    fixed = len(hook) + len(signature) + len(closing) + len(tags) + 12  # + paragraph breaks
    sentences = _body(frames, style, dice, fill, budget=target - fixed)

    joiner = "\n" if style.line_per_sentence else " "
    body_chars = sum(len(sentence) + 1 for sentence in sentences) + len(signature) + len(closing)
    count = min(max(round(body_chars / style.paragraph_chars), 1), 3)
    size = math.ceil(len(sentences) / count)
    paragraphs = [joiner.join(sentences[i : i + size]) for i in range(0, len(sentences), size)]
    paragraphs[-1] = joiner.join(part for part in (paragraphs[-1], signature, closing) if part)

    blocks = [hook, *paragraphs]
    for slot, emoji in enumerate(_emojis(hints, style, dice)):
        index = 0 if slot % 2 == 0 else len(blocks) - 1
        blocks[index] = f"{blocks[index]} {emoji}"
    if tags:
        blocks.append(tags)
    return "\n\n".join(block for block in blocks if block)


def _body(frames: _Frames, style: _Style, dice: _Dice, fill: _Filler, *, budget: int) -> list[str]:
    """Sentences in the author's rhythm, stopping at whichever count lands nearest `budget`."""
    unused = {name: list(options) for name, options in frames.body.items()}
    sentences: list[str] = []
    length = 0
    for turn in range(_MAX_SENTENCES):
        wanted = style.rhythm[turn % len(style.rhythm)]
        # Break the rhythm before repeating a sentence; repeat only once every frame is used.
        bucket = next((near for near in _NEAREST[wanted] if unused[near]), None)
        if bucket is None:
            unused = {name: list(options) for name, options in frames.body.items()}
            bucket = wanted
        sentence = fill(unused[bucket].pop(dice.below(len(unused[bucket]))))
        grown = length + len(sentence) + 1
        if sentences and abs(grown - budget) >= abs(length - budget):
            break
        sentences.append(sentence)
        length = grown
    return sentences


def _read_style(hints: GenerationHints) -> _Style:
    samples = [sample for sample in hints.samples if sample.strip()]
    if not samples:
        return _Style(
            rhythm=_DEFAULT_RHYTHM,
            paragraph_chars=_DEFAULT_PARAGRAPH_CHARS,
            line_per_sentence=False,
            emojis=1 if hints.top_emojis else 0,
            hashtags=min(2, len(hints.top_hashtags)),
        )
    rhythm: list[Bucket] = []
    sentences = 0
    line_breaks = 0
    body_paragraphs: list[int] = []
    emojis = 0
    hashtags = 0
    for sample in samples:
        blocks = [
            block
            for block in _PARAGRAPH_SPLIT.split(sample.strip())
            if block.strip() and not block.strip().startswith("#")
        ]
        # The first paragraph of a post is its hook; the rest is body.
        body_paragraphs.extend(len(block) for block in blocks[1:])
        line_breaks += sum(block.strip().count("\n") for block in blocks)
        parts = [part for part in _SENTENCE_SPLIT.split(sample) if _words(part)]
        sentences += len(parts)
        rhythm.extend(_bucket(_words(part)) for part in parts if not part.startswith("#"))
        emojis += sum(sample.count(emoji) for emoji in hints.top_emojis)
        hashtags += len(_HASHTAG.findall(sample))
    return _Style(
        rhythm=tuple(rhythm[:_RHYTHM_SPAN]) or _DEFAULT_RHYTHM,
        paragraph_chars=max(
            round(sum(body_paragraphs) / len(body_paragraphs))
            if body_paragraphs
            else _DEFAULT_PARAGRAPH_CHARS,
            _MIN_PARAGRAPH_CHARS,
        ),
        line_per_sentence=line_breaks >= sentences / 2,
        emojis=min(_round(emojis / len(samples)), _MAX_EMOJIS),
        hashtags=min(_round(hashtags / len(samples)), len(hints.top_hashtags)),
    )


def _emojis(hints: GenerationHints, style: _Style, dice: _Dice) -> list[str]:
    if not hints.top_emojis:
        return []
    # Favour the author's most used emojis, as the list is ordered by frequency.
    ranked = hints.top_emojis[:3]
    return [dice.pick(ranked) for _ in range(style.emojis)]


def _hints_from_prompt(request: GenerationRequest) -> GenerationHints:
    """Best effort when a caller sent no hints: the first line of the last user message."""
    user = [message.content for message in request.messages if message.role == "user"]
    first_line = user[-1].strip().split("\n", 1)[0] if user else ""
    return GenerationHints(
        topic=" ".join(first_line.split()[:8]),
        platform="generic",
        language="en",
        target_length=_DEFAULT_TARGET,
    )


def _language(tag: str) -> str:
    return re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]


def _sentence(phrase: str) -> str:
    phrase = phrase.strip()
    return phrase if phrase.endswith((".", "!", "?", "…")) else f"{phrase}."


def _round(value: float) -> int:
    """Half up, so an author with an emoji in every other post still gets one."""
    return math.floor(value + 0.5)


def _words(text: str) -> int:
    return len(text.split())


def _bucket(words: int) -> Bucket:
    if words <= 6:
        return "short"
    return "medium" if words <= 14 else "long"
