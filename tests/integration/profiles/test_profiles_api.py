"""Style profiles over the real API: measured style, ownership, samples, scoring."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import ENGLISH_SAMPLES, RUSSIAN_SAMPLES, create_profile

API = "/api/v1/profiles"


async def test_create_profile_measures_style(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    assert profile["id"].startswith("prof_")
    assert profile["language"] == "en"
    assert profile["sample_count"] == 3
    style = profile["style"]
    for feature in (
        "avg_length",
        "avg_sentence_words",
        "avg_paragraphs",
        "list_usage",
        "emoji_per_100_words",
        "hashtags_per_post",
        "question_rate",
        "exclamation_rate",
        "tone",
        "signature_phrases",
        "top_emojis",
        "top_hashtags",
        "platforms",
    ):
        assert feature in style
    assert "#product" in style["top_hashtags"]
    assert any("shipping beats perfect" in phrase.lower() for phrase in style["signature_phrases"])
    assert set(style["platforms"]) == {"linkedin", "x"}


async def test_russian_profile_detects_language(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers, samples=RUSSIAN_SAMPLES)
    assert profile["language"] == "ru"


async def test_profiles_are_private(api: httpx.AsyncClient, make_user: Any) -> None:
    owner, other = await make_user(), await make_user()
    profile = await create_profile(api, owner.headers)
    url = f"{API}/{profile['id']}"
    for method in ("GET", "DELETE"):
        response = await api.request(method, url, headers=other.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert (await api.patch(url, json={"name": "x"}, headers=other.headers)).status_code == 404
    listed = await api.get(API, headers=other.headers)
    assert listed.json()["data"] == []
    assert (await api.get(url, headers=owner.headers)).status_code == 200


async def test_update_add_samples_and_delete(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    url = f"{API}/{profile['id']}"
    renamed = await api.patch(url, json={"name": "Ada L."}, headers=user.headers)
    assert renamed.json()["name"] == "Ada L."
    added = await api.post(
        f"{url}/samples", json={"samples": ENGLISH_SAMPLES[:1]}, headers=user.headers
    )
    assert added.status_code == 200
    assert added.json()["sample_count"] == 4
    assert (await api.delete(url, headers=user.headers)).status_code == 204
    assert (await api.get(url, headers=user.headers)).status_code == 404


async def test_score_ranks_own_style_higher(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    url = f"{API}/{profile['id']}/score"
    own = await api.post(
        url,
        json={"text": "Shipping beats perfect. We shipped the new billing page today. #product"},
        headers=user.headers,
    )
    foreign = await api.post(url, json={"text": RUSSIAN_SAMPLES[0]["text"]}, headers=user.headers)
    assert own.status_code == 200
    body = own.json()
    assert 0 <= body["overall"] <= 1
    assert all(0 <= value <= 1 for value in body["features"].values())
    assert body["overall"] > foreign.json()["overall"]


async def test_pagination_walks_every_profile_once(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    created = [(await create_profile(api, user.headers, name=f"p{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get(API, params=params, headers=user.headers)).json()
        seen.extend(item["id"] for item in page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))


async def test_profile_validation_errors(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    bad_platform = await api.post(
        API,
        json={"name": "x", "samples": [{"platform": "myspace", "text": "hi"}]},
        headers=user.headers,
    )
    assert bad_platform.status_code == 422
    assert bad_platform.json()["code"] == "validation_error"
    no_samples = await api.post(API, json={"name": "x", "samples": []}, headers=user.headers)
    assert no_samples.status_code == 422
    unknown = await api.post(
        API,
        json={"name": "x", "samples": ENGLISH_SAMPLES, "owner_id": "usr_1"},
        headers=user.headers,
    )
    assert unknown.status_code == 422
