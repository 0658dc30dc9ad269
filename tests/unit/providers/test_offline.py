"""The offline backend writes a plausible, clearly labelled post from the author's hints."""

import msgspec
import pytest

from workers.providers import (
    ChatMessage,
    GenerationHints,
    GenerationRequest,
    OfflineProvider,
    build_provider,
)

SAMPLES = (
    "Shipping beats planning. Every time.\n\n"
    "I learned this the hard way at my first startup, where we spent six months on a spec "
    "nobody read.\n\nShip it. 🚀\n\n#startups #product",
    "Hot take: meetings are a tax.\n\n"
    "Cut them in half and watch what happens to your team's output over a month. 🔥\n\n"
    "#productivity #startups",
)
HINTS = GenerationHints(
    topic="remote work",
    platform="linkedin",
    language="en",
    target_length=600,
    samples=SAMPLES,
    signature_phrases=("Ship it",),
    top_emojis=("🚀", "🔥"),
    top_hashtags=("#startups", "#product", "#productivity"),
)


def request(hints: GenerationHints | None = HINTS) -> GenerationRequest:
    return GenerationRequest(
        model="gpt-4o-mini",
        messages=(ChatMessage(role="user", content="Write a post about remote work."),),
        hints=hints,
    )


async def test_is_labelled_as_offline() -> None:
    result = await OfflineProvider().generate(request())

    assert result.backend == "offline"
    assert result.model == "ghostpen-offline"
    assert result.usage.completion_tokens > 0
    assert result.usage.prompt_tokens > 0
    assert result.usage.cached_prompt_tokens == 0


async def test_same_hints_same_post_and_topics_differ() -> None:
    provider = OfflineProvider()

    first = await provider.generate(request())
    again = await provider.generate(request())
    other = await provider.generate(request(msgspec.structs.replace(HINTS, topic="hiring")))

    assert first.text == again.text
    assert other.text != first.text


async def test_opens_with_a_hook_about_the_topic() -> None:
    result = await OfflineProvider().generate(request())

    hook = result.text.split("\n\n")[0]
    assert "remote work" in hook.lower()


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("target", [300, 600, 1200])
async def test_length_is_near_target(language: str, target: int) -> None:
    hints = msgspec.structs.replace(HINTS, language=language, target_length=target)

    result = await OfflineProvider().generate(request(hints))

    assert abs(len(result.text) - target) <= target * 0.2


async def test_writes_russian_for_russian_authors() -> None:
    hints = msgspec.structs.replace(HINTS, language="ru-RU", topic="удалённая работа")

    text = (await OfflineProvider().generate(request(hints))).text

    assert "«удалённая работа»" in text
    assert sum("а" <= char.lower() <= "я" for char in text) > len(text) / 3


async def test_unknown_language_falls_back_to_english() -> None:
    hints = msgspec.structs.replace(HINTS, language="de")

    text = (await OfflineProvider().generate(request(hints))).text

    assert " the " in text


async def test_uses_signature_phrase_emojis_and_hashtags_at_author_density() -> None:
    text = (await OfflineProvider().generate(request())).text

    assert "Ship it." in text
    assert sum(text.count(emoji) for emoji in HINTS.top_emojis) == 1
    assert text.splitlines()[-1] == "#startups #product"


async def test_follows_one_sentence_per_line_authors() -> None:
    hints = msgspec.structs.replace(
        HINTS,
        samples=("Short.\nPunchy.\nLines.\n\nThat is how I write.\nEvery day.",),
        signature_phrases=(),
    )

    text = (await OfflineProvider().generate(request(hints))).text

    body = text.split("\n\n")[1]
    assert len(body.splitlines()) > 1


async def test_without_samples_still_uses_the_authors_emojis_and_tags() -> None:
    hints = msgspec.structs.replace(HINTS, samples=())

    text = (await OfflineProvider().generate(request(hints))).text

    assert any(emoji in text for emoji in HINTS.top_emojis)
    assert "#startups" in text


async def test_without_hints_takes_the_topic_from_the_prompt() -> None:
    result = await OfflineProvider().generate(request(hints=None))

    assert "write a post about remote work" in result.text.lower()


def test_build_provider_without_keys_is_offline() -> None:
    provider = build_provider(["", "  "], base_url=None, timeout=10)

    assert isinstance(provider.backend, OfflineProvider)
    assert provider.name == "offline"
