"""A fake OpenAI server on loopback: real HTTP, the OpenAI wire format, a scripted behaviour per request.

Usage::

    with FakeOpenAI(["429", "good"]) as server:
        writer = AiWriter(settings=..., api_key="test-key", base_url=server.base_url)
        ...
        server.requests  # [{"path", "body", "headers"}, ...] in arrival order

Behaviours, consumed one per request (``default`` once the script runs out):

- ``good``: a valid answer built from the request: the json_schema's name says promo or mashup post,
  its enums give the platforms and moods; Vietnamese (with diacritics) when the prompt is Vietnamese.
  Speech: a short mono 24 kHz sine WAV.
- ``good_nfd``: like ``good`` but every string of the answer in NFD (decomposed diacritics).
- ``malformed``: chat content that is not JSON.
- ``invalid``: JSON that breaks the schema (a mood outside the list).
- ``429``: HTTP 429 with ``Retry-After: 0``.  ``500``: HTTP 500.  ``401``: HTTP 401 (bad key).
- ``slow``: sleeps ``slow_s`` (longer than the client's timeout), then answers like ``good``.
"""

from __future__ import annotations

import io
import json
import math
import struct
import threading
import time
import unicodedata
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

BEHAVIOURS = ("good", "good_nfd", "malformed", "invalid", "429", "500", "401", "slow")
SAMPLE_RATE = 24000


def sine_wav(*, duration_s: float = 0.2, freq_hz: float = 440.0, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit sine tone as a WAV file's bytes."""
    n = int(duration_s * sample_rate)
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq_hz * i / sample_rate)))
                      for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(frames)
    return buf.getvalue()


def _is_vietnamese(body: dict) -> bool:
    text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    return "tiếng Việt" in unicodedata.normalize("NFC", text)


def _enum(schema: dict, *path: str) -> list[str]:
    node: Any = schema
    for key in path:
        node = node[key]
    return list(node.get("enum", []))


def _promo_answer(schema: dict, vi: bool) -> dict:
    platforms = _enum(schema, "$defs", "PlatformPost", "properties", "platform")
    moods = _enum(schema, "properties", "mood")
    if vi:
        answer = {
            "hook": "Áo thun cotton mát lạnh cho mùa hè rực rỡ!",
            "selling_lines": ["Vải cotton thoáng khí, thấm hút mồ hôi", "Form rộng dễ phối đồ, đủ size"],
            "call_to_action": "Đặt hàng ngay hôm nay",
            "captions": ["Mát lạnh cả ngày", "Giá chỉ 129.000₫", "Đặt ngay kẻo lỡ"],
            "hashtags": ["#áothun", "#thờitrang", "#muasắm"],
            "posts": [{"platform": p, "title": f"Áo thun cotton siêu mát – {p}",
                       "description": "Áo thun cotton mát lạnh, giá chỉ 129.000₫. Đặt hàng ngay!"} for p in platforms],
        }
    else:
        answer = {
            "hook": "Meet the coolest cotton tee of the summer!",
            "selling_lines": ["Breathable cotton that keeps you dry", "Relaxed fit, every size"],
            "call_to_action": "Order yours today",
            "captions": ["Cool all day", "Only $19.99", "Grab yours now"],
            "hashtags": ["#tee", "#fashion", "#deals"],
            "posts": [{"platform": p, "title": f"Cotton tee – {p}",
                       "description": "The coolest cotton tee, only $19.99. Order yours today!"} for p in platforms],
        }
    answer["mood"] = moods[0] if moods else "upbeat"
    return answer


def _video_answer(vi: bool) -> dict:
    if vi:
        return {"title": "Khoảnh khắc hài hước nhất tuần 😂",
                "description": "Xem đến cuối nhé, cười không nhặt được mồm!",
                "hashtags": ["#giảitrí", "#hàihước", "#xuhướng"]}
    return {"title": "Funniest moment of the week 😂", "description": "Watch till the end!",
            "hashtags": ["#funny", "#trending", "#fyp"]}


def _nfd(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFD", value)
    if isinstance(value, list):
        return [_nfd(v) for v in value]
    if isinstance(value, dict):
        return {k: _nfd(v) for k, v in value.items()}
    return value


class FakeOpenAI:
    """The fake server; a context manager that starts and stops it (a daemon thread, port chosen by the OS)."""

    def __init__(self, script: Iterable[str] = (), *, default: str = "good", slow_s: float = 2.0) -> None:
        self.script = list(script)
        for b in (*self.script, default):
            if b not in BEHAVIOURS:
                raise ValueError(f"Invalid behaviour ({b!r}). Supported: {', '.join(BEHAVIOURS)}.")
        self.default = default
        self.slow_s = slow_s
        self.requests: list[dict] = []
        self.wav = sine_wav()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                fake._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()  # wakes a "slow" handler
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw
        behaviour = self._next()
        with self._lock:
            self.requests.append({"path": h.path, "body": body, "headers": {k.lower(): v for k, v in h.headers.items()},
                                  "size_bytes": len(raw), "behaviour": behaviour})
        if behaviour == "slow":
            self._stop.wait(self.slow_s)
            behaviour = "good"
        if behaviour == "429":
            return self._json(h, 429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                 "code": "rate_limit_exceeded"}}, {"Retry-After": "0"})
        if behaviour == "500":
            return self._json(h, 500, {"error": {"message": "The server had an error", "type": "server_error"}})
        if behaviour == "401":
            return self._json(h, 401, {"error": {"message": "Incorrect API key provided",
                                                 "type": "invalid_request_error", "code": "invalid_api_key"}})
        if h.path.endswith("/audio/speech"):
            if behaviour in ("malformed", "invalid"):
                return self._send(h, 200, b"this is not audio", "audio/wav")
            return self._send(h, 200, self.wav, "audio/wav")
        if not h.path.endswith("/chat/completions") or not isinstance(body, dict):
            return self._json(h, 404, {"error": {"message": f"no route {h.path}", "type": "invalid_request_error"}})
        content = self._content(body, behaviour)
        self._json(h, 200, {
            "id": f"chatcmpl-fake{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(raw) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": len(raw) // 4 + len(content) // 4},
        })

    @staticmethod
    def _content(body: dict, behaviour: str) -> str:
        if behaviour == "malformed":
            return '{"hook": "Áo thun", "selling_lines": ['  # cut short: not JSON
        fmt = (body.get("response_format") or {}).get("json_schema") or {}
        schema, vi = fmt.get("schema") or {}, _is_vietnamese(body)
        answer = _promo_answer(schema, vi) if fmt.get("name") == "promo_answer" else _video_answer(vi)
        if behaviour == "invalid" and "mood" in answer:
            answer["mood"] = "not-a-library-mood"
        elif behaviour == "invalid":
            del answer["title"]
        if behaviour == "good_nfd":
            answer = _nfd(answer)
        return json.dumps(answer, ensure_ascii=False)

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict | None = None) -> None:
        FakeOpenAI._send(h, status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json",
                         headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str,
              headers: dict | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a "slow" answer after its timeout)
            pass
