"""The AI writer against a real HTTP fake of the OpenAI API: answers, retries, fallbacks, the cache, speech."""

from __future__ import annotations

import io
import json
import socket
import unicodedata
import wave

import pytest
from fake_openai import SAMPLE_RATE, FakeOpenAI

import catalogs
from farm.ai import (
    AiWriter,
    AnswerError,
    CatalogAnswerCache,
    MemoryAnswerCache,
    TextResult,
    parse_promo_answer,
    promo_schema,
)
from farm.settings import AiSettings
from farm.workspace import Workspace, init_workspace

KEY = "test-key"
NO_KEY_REASON = "no OPENAI_API_KEY"
OFF_REASON = "AI text is off in farm.toml"
MOODS = ["upbeat", "calm"]
VI_PRODUCT = {"name": "Áo thun cotton", "price": 129000, "currency": "VND",
              "selling_points": ["Mát lạnh", "Thấm hút mồ hôi"], "call_to_action": None, "language": "vi",
              "platforms": ["tiktok", "youtube"], "mood": None}
EN_PRODUCT = {**VI_PRODUCT, "name": "Cotton tee", "price": 19.99, "currency": "USD",
              "selling_points": ["Breathable"], "language": "en"}
# What the fake server's Vietnamese "good" answer says, written out here (NFC), not read from the fake.
VI_HOOK = "Áo thun cotton mát lạnh cho mùa hè rực rỡ!"


class Sleeps(list):
    """An injected sleep that records the delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def writer_for(server: FakeOpenAI, *, cache=None, sleep=None, clock=None, api_key: str | None = KEY,
               **settings) -> AiWriter:
    opts = {"model": "test-model", "timeout_s": 5.0, "max_retries": 2, "speech_model": "test-tts", "voice": "nova",
            **settings}
    kwargs = {"clock": clock} if clock else {}
    return AiWriter(settings=AiSettings(**opts), cache=cache, api_key=api_key, base_url=server.base_url,
                    sleep=sleep if sleep is not None else Sleeps(), **kwargs)


def _strict(node) -> bool:
    """Every object closed and every property required, all the way down."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            closed = node.get("additionalProperties") is False
            if not closed or set(node.get("required", [])) != set(node["properties"]):
                return False
        return all(_strict(v) for v in node.values())
    if isinstance(node, list):
        return all(_strict(v) for v in node)
    return True


def test_good_answer_is_ai_counts_tokens_and_is_cached_for_the_second_call():
    cache = MemoryAnswerCache()
    with FakeOpenAI() as server:
        writer = writer_for(server, cache=cache)
        first = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
        second = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
    assert isinstance(first, TextResult)
    assert (first.source, first.reason, first.cached, first.requests) == ("ai", None, False, 1)
    assert first.text.source == "ai" and first.text.hook == VI_HOOK
    assert first.prompt_tokens == server.requests[0]["size_bytes"] // 4 > 0
    assert first.completion_tokens > 0
    assert sorted(first.text.titles) == ["tiktok", "youtube"] and first.text.mood == "upbeat"
    assert first.text.hashtags == ("#áothun", "#thờitrang", "#muasắm")
    assert len(server.requests) == 1  # the second call asked nobody
    assert (second.source, second.cached, second.requests) == ("ai", True, 0)
    assert (second.prompt_tokens, second.completion_tokens) == (first.prompt_tokens, first.completion_tokens)
    assert second.text == first.text
    assert len(cache) == 1


def test_request_carries_the_model_a_strict_json_schema_and_the_price_as_written():
    with FakeOpenAI() as server:
        writer_for(server, model="gpt-test-1").promo_text(product=VI_PRODUCT, moods=MOODS)
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    body = req["body"]
    assert body["model"] == "gpt-test-1"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert _strict(schema)
    assert schema["properties"]["mood"]["enum"] == MOODS
    assert schema["$defs"]["PlatformPost"]["properties"]["platform"]["enum"] == ["tiktok", "youtube"]
    prompt = "\n".join(m["content"] for m in body["messages"])
    assert "129.000₫" in prompt  # farm.text.format_price's VND form, passed as written
    assert "tiếng Việt" in prompt and "100" in prompt and "2200" in prompt


@pytest.mark.parametrize("behaviour, why", [("malformed", "not JSON"), ("invalid", "not-a-library-mood")])
def test_unusable_answer_falls_back_with_the_reason_and_is_not_cached(behaviour, why):
    cache = MemoryAnswerCache()
    with FakeOpenAI([behaviour, behaviour]) as server:
        writer = writer_for(server, cache=cache)
        result = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
        again = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
    assert result.source == "fallback" and result.text.source == "fallback"
    assert why in result.reason and result.text.reason == result.reason
    assert result.requests == 1 and result.prompt_tokens > 0  # the server answered: no retry, tokens were spent
    assert result.text.mood in MOODS and result.text.captions  # the template writer's words
    assert len(cache) == 0 and again.requests == 1 and len(server.requests) == 2


def test_429_is_retried_after_the_servers_retry_after():
    sleeps = Sleeps()
    with FakeOpenAI(["429", "good"]) as server:
        result = writer_for(server, sleep=sleeps).promo_text(product=EN_PRODUCT, moods=MOODS)
    assert (result.source, result.requests) == ("ai", 2)
    assert sleeps == [0.0]  # Retry-After: 0 honoured instead of the backoff
    assert result.text.hook == "Meet the coolest cotton tee of the summer!"


def test_500_forever_falls_back_after_one_plus_max_retries_requests_with_backoff():
    sleeps = Sleeps()
    with FakeOpenAI(default="500") as server:
        result = writer_for(server, sleep=sleeps, max_retries=2).promo_text(product=VI_PRODUCT, moods=MOODS)
    assert result.source == "fallback" and "HTTP 500" in result.reason and "3 requests" in result.reason
    assert result.requests == 3 and len(server.requests) == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # 0.5 s * 2**n with jitter in [0.5, 1)


def test_slow_server_falls_back_within_the_bound():
    import time

    with FakeOpenAI(default="slow", slow_s=5.0) as server:
        writer = writer_for(server, timeout_s=0.5, max_retries=1)
        start = time.monotonic()
        result = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
        elapsed = time.monotonic() - start
    assert writer.call_bound_s == 0.5 * 2 + 8 * 1
    assert result.source == "fallback" and "did not answer within 0.5 s" in result.reason
    assert result.requests == 2 and len(server.requests) == 2
    assert elapsed < writer.call_bound_s


def test_401_is_not_retried():
    sleeps = Sleeps()
    with FakeOpenAI(default="401") as server:
        result = writer_for(server, sleep=sleeps).promo_text(product=VI_PRODUCT, moods=MOODS)
    assert result.source == "fallback" and "HTTP 401" in result.reason and "Incorrect API key" in result.reason
    assert result.requests == 1 and len(server.requests) == 1 and sleeps == []


def test_unreachable_server_is_retried_then_falls_back():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    writer = AiWriter(settings=AiSettings(max_retries=1, timeout_s=2.0), api_key=KEY,
                      base_url=f"http://127.0.0.1:{port}/v1", sleep=Sleeps())
    result = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
    assert result.source == "fallback" and "unreachable" in result.reason and result.requests == 2


def test_no_key_or_ai_off_falls_back_at_once(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server:
        no_key = writer_for(server, api_key=None).promo_text(product=VI_PRODUCT, moods=MOODS)
        empty_key = writer_for(server, api_key="").video_text(title_hint="Mèo con", creator=None, language="vi",
                                                              platforms=["tiktok"])
        off = writer_for(server, enabled=False).promo_text(product=VI_PRODUCT, moods=MOODS)
        no_voice = writer_for(server, api_key=None).speech("Xin chào", language="vi")
    assert (no_key.source, no_key.reason, no_key.requests) == ("fallback", NO_KEY_REASON, 0)
    assert empty_key.reason == NO_KEY_REASON and empty_key.text.source == "fallback"
    assert (off.reason, off.requests) == (OFF_REASON, 0)
    assert no_voice.wav is None and no_voice.reason == NO_KEY_REASON
    assert server.requests == []


def test_circuit_breaker_stops_asking_after_three_failed_calls_then_tries_again():
    clock = Clock()
    with FakeOpenAI(["500", "500", "500"], default="good") as server:
        writer = writer_for(server, clock=clock, max_retries=0)
        failed = [writer.promo_text(product=VI_PRODUCT, moods=MOODS) for _ in range(3)]
        skipped = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
        assert len(server.requests) == 3  # the 4th call asked nobody
        clock.now += 299
        still = writer.video_text(title_hint="Mèo con", creator=None, language="vi", platforms=["tiktok"])
        clock.now += 2  # past the 300 s pause: one call is let through
        back = writer.promo_text(product=VI_PRODUCT, moods=MOODS)
    assert all(r.source == "fallback" and r.requests == 1 for r in failed)
    assert skipped.source == "fallback" and skipped.requests == 0
    assert "3 calls in a row failed" in skipped.reason and "HTTP 500" in skipped.reason
    assert still.requests == 0 and "asking again in 1 s" in still.reason
    assert back.source == "ai" and back.requests == 1 and len(server.requests) == 4


def test_speech_returns_a_wav_that_wave_opens_and_is_cached():
    cache = MemoryAnswerCache()
    with FakeOpenAI() as server:
        writer = writer_for(server, cache=cache)
        first = writer.speech("Áo thun cotton, giá chỉ 129.000₫", language="vi")
        second = writer.speech("Áo thun cotton, giá chỉ 129.000₫", language="vi")
    assert first.reason is None and (first.cached, first.requests) == (False, 1)
    with wave.open(io.BytesIO(first.wav), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, SAMPLE_RATE, 2)
        assert w.getnframes() > 1000
    assert second.cached and second.wav == first.wav and len(server.requests) == 1
    (req,) = server.requests
    assert req["path"] == "/v1/audio/speech"
    assert {k: req["body"][k] for k in ("model", "voice", "response_format")} == \
        {"model": "test-tts", "voice": "nova", "response_format": "wav"}
    assert req["body"]["input"] == "Áo thun cotton, giá chỉ 129.000₫"


@pytest.mark.parametrize("behaviour, why", [("500", "HTTP 500"), ("malformed", "not WAV")])
def test_speech_failure_gives_no_wav_and_a_reason(behaviour, why):
    cache = MemoryAnswerCache()
    with FakeOpenAI(default=behaviour) as server:
        result = writer_for(server, cache=cache, max_retries=1).speech("Xin chào", language="vi")
    assert result.wav is None and why in result.reason and not result.cached
    assert result.requests == (2 if behaviour == "500" else 1) == len(server.requests)
    assert len(cache) == 0


def test_vietnamese_answer_keeps_its_diacritics_nfc_end_to_end(tmp_path):
    ws = init_workspace(tmp_path / "ws")[0]
    with FakeOpenAI(["good_nfd"]) as server:
        fresh = writer_for(server, cache=CatalogAnswerCache(ws)).promo_text(product=VI_PRODUCT, moods=MOODS)
        # a second writer on the same workspace reads the answer back from the catalog
        cached = writer_for(server, cache=CatalogAnswerCache(Workspace(ws.root))).promo_text(product=VI_PRODUCT,
                                                                                             moods=MOODS)
    assert len(server.requests) == 1
    assert server.requests[0]["behaviour"] == "good_nfd"
    for result in (fresh, cached):
        t = result.text
        assert t.source == "ai" and t.hook == VI_HOOK
        words = [t.hook, t.call_to_action, *t.selling_lines, *t.captions, *t.hashtags, *t.titles.values(),
                 *t.descriptions.values()]
        assert all(unicodedata.is_normalized("NFC", w) for w in words)
        assert "#thờitrang" in t.hashtags and "Giá chỉ 129.000₫" in t.captions
    assert cached.cached and cached.text == fresh.text


def test_catalog_answer_cache_round_trip(tmp_path):
    ws = init_workspace(tmp_path / "ws")[0]
    cache = CatalogAnswerCache(ws)
    assert cache.get("0" * 64) is None
    answer = json.dumps({"hook": "Xin chào"}, ensure_ascii=False).encode("utf-8")
    cache.put("a" * 64, kind="promo", model="m", answer=answer, prompt_tokens=12, completion_tokens=5)
    cache.put("a" * 64, kind="promo", model="m", answer=b"{}", prompt_tokens=1, completion_tokens=1)  # first kept
    row = CatalogAnswerCache(Workspace(ws.root)).get("a" * 64)
    assert (row["answer"], row["kind"], row["model"], row["prompt_tokens"], row["completion_tokens"]) == \
        (answer, "promo", "m", 12, 5)
    with ws.catalog.read() as con:
        assert catalogs.ai_cache_stats(con) == {"answers": 1, "prompt_tokens": 12, "completion_tokens": 5}


def test_video_text_credits_the_creator_and_falls_back_on_an_invalid_answer():
    with FakeOpenAI(["good", "invalid"]) as server:
        writer = writer_for(server)
        good = writer.video_text(title_hint="Mèo con nghịch ngợm", creator="@meo.vui", language="vi",
                                 platforms=["tiktok", "facebook"])
        bad = writer.video_text(title_hint="Cute cats", creator=None, language="en", platforms=["youtube"])
    assert good.source == "ai" and good.text.titles["tiktok"] == "Khoảnh khắc hài hước nhất tuần 😂"
    assert good.text.credit_line == "Nguồn/Credit: @meo.vui"
    assert all(d.endswith("\nNguồn/Credit: @meo.vui") for d in good.text.descriptions.values())
    assert server.requests[0]["body"]["response_format"]["json_schema"]["name"] == "video_answer"
    assert bad.source == "fallback" and "title" in bad.reason and list(bad.text.titles) == ["youtube"]


def test_schema_checks_name_the_field_and_the_limit():
    good = {"hook": "Xin chào", "selling_lines": ["a", "b"], "call_to_action": "Mua", "captions": ["x", "y", "z"],
            "hashtags": ["#áo", "quần", "#x_1"], "posts": [{"platform": "tiktok", "title": "t", "description": "d"}],
            "mood": "calm"}
    assert parse_promo_answer(json.dumps(good), platforms=["tiktok"], moods=["calm"]).hashtags[1] == "quần"
    cases = [({"hook": "x" * 91}, "hook: String should have at most 90 characters"),
             ({"hashtags": ["#a b", "c", "d"]}, "hashtags[0]"),
             ({"selling_lines": ["a"]}, "selling_lines"),
             ({"posts": []}, "no post for tiktok"),
             ({"posts": [{"platform": "tiktok", "title": "t" * 91, "description": "d"}]}, "tiktok title is too long"),
             ({"extra": 1}, "extra")]
    for change, why in cases:
        with pytest.raises(AnswerError) as err:
            parse_promo_answer(json.dumps({**good, **change}), platforms=["tiktok"], moods=["calm"])
        assert why in err.value.reason
    # a hook of 90 composed letters sent decomposed (180 code points) is 90 characters
    nfd = unicodedata.normalize("NFD", "ấ" * 90)
    assert parse_promo_answer(json.dumps({**good, "hook": nfd}), platforms=["tiktok"], moods=["calm"]).hook == "ấ" * 90
    assert _strict(promo_schema(platforms=["tiktok"], moods=["calm"]))
