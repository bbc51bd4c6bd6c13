"""URL import against a real HTTP server on loopback: resume after a drop, HTML, caps, errors."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

import catalogs
from conftest import RED, flat_clip, run_farm
from farm.library import download
from farm.errors import InputError, RetryableError
from farm.library import ImportOptions, import_media
from farm.workspace import init_workspace


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, *, length: int | None = None, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        clip = srv.clip
        if self.path in ("/clip.mp4", "/drop/clip.mp4", "/dropalways/clip.mp4"):
            rng = self.headers.get("Range")
            start = int(rng.split("=")[1].split("-")[0]) if rng else 0
            if self.path.startswith("/dropalways") or (self.path.startswith("/drop") and start == 0):
                # announce everything, send half, hang up
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(clip) - start))
                self.send_header("ETag", '"v1"')
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(clip) - 1}/{len(clip)}")
                self.end_headers()
                self.wfile.write(clip[start : start + max(1, (len(clip) - start) // 2)])
                self.wfile.flush()
                self.close_connection = True
                return
            if start:
                self._send(206, clip[start:], "video/mp4",
                           extra={"Content-Range": f"bytes {start}-{len(clip) - 1}/{len(clip)}", "ETag": '"v1"'})
            else:
                self._send(200, clip, "video/mp4", extra={"ETag": '"v1"'})
        elif self.path == "/page":
            self._send(200, b"<!DOCTYPE html><html><body>Watch here</body></html>", "text/html; charset=utf-8")
        elif self.path == "/disguised.mp4":
            self._send(200, b"<!DOCTYPE html><html><body>login</body></html>" * 5, "application/octet-stream")
        elif self.path == "/big.mp4":
            self._send(200, b"", "video/mp4", length=50_000_000)
        elif self.path == "/chunked.mp4":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(40):
                chunk = b"\0" * 65536
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/noise.bin":
            self._send(200, bytes(range(256)) * 64, "application/octet-stream")
        elif self.path == "/slow.mp4":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/broken":
            self._send(503, b"busy", "text/plain")
        else:
            self._send(404, b"not here", "text/plain")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: list
    clip: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    clip = flat_clip(tmp_path_factory.mktemp("srv") / "clip.mp4", RED, seconds=1.0).read_bytes()
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.clip = clip
    srv.requests = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def _url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "ws")[0]


def _nothing_left(ws) -> None:
    assert not [p for p in (ws.state_dir / "downloads").glob("*")] if (ws.state_dir / "downloads").exists() else True
    assert not list((ws.root / "sources").iterdir())
    with ws.catalog.read() as con:
        assert catalogs.list_media(con) == []


def test_dropped_connection_resumes_with_range(server, ws):
    server.requests.clear()
    url = _url(server, "/drop/clip.mp4")
    r = run_farm("media", "import", url, "--kind", "source", "--license", "owned", "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["added"][0]
    assert row["source_url"] == url and Path(row["path"]).name == "clip.mp4"
    assert Path(row["path"]).read_bytes() == server.clip
    ranges = [rng for path, rng in server.requests if path == "/drop/clip.mp4"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(server.clip) // 2}-"
    assert not list((ws.state_dir / "downloads").glob("*"))


def test_endless_drops_give_up_with_nothing_kept(server, ws):
    with pytest.raises(RetryableError, match="after 2 resumes"):
        download(_url(server, "/dropalways/clip.mp4"), ws.state_dir / "downloads", max_bytes=10**8, max_resumes=2)
    assert not list((ws.state_dir / "downloads").glob("*"))


@pytest.mark.parametrize(
    "path, message",
    [
        ("/page", "HTML page"),
        ("/disguised.mp4", "HTML page"),
        ("/big.mp4", "more than the cap of 1,000,000"),
        ("/chunked.mp4", "more than the cap of 1,000,000"),
        ("/noise.bin", "not a media file"),
        ("/missing.mp4", "HTTP 404"),
    ],
)
def test_refused_downloads_leave_nothing(server, ws, path, message):
    url = _url(server, path)
    r = run_farm("media", "import", url, "--kind", "source", "--max-bytes", "1000000", "--workspace", str(ws.root))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and url in r.stderr and message in r.stderr and "Traceback" not in r.stderr
    _nothing_left(ws)


def test_server_errors_are_retried_then_reported_as_retryable(server, ws):
    with pytest.raises(RetryableError):
        download(_url(server, "/broken"), ws.state_dir / "downloads", max_bytes=10**6, max_resumes=1)
    with pytest.raises(InputError, match="only http and https"):
        download("ftp://example.invalid/x.mp4", ws.state_dir / "downloads", max_bytes=10**6)


def test_url_and_files_mixed_a_bad_url_does_not_stop_the_rest(server, ws, tmp_path):
    local = flat_clip(tmp_path / "local.mp4", (100, 120, 140), seconds=0.3)
    rep = import_media(ws, [_url(server, "/page"), str(local), _url(server, "/clip.mp4")],
                       ImportOptions(kind="source", license="owned"))
    assert len(rep.added) == 2 and len(rep.failed) == 1 and "HTML" in rep.failed[0][1]


def test_a_trickling_server_hits_the_time_limit(server, ws):
    with pytest.raises(RetryableError, match="too slow"):
        download(_url(server, "/slow.mp4"), ws.state_dir / "downloads", max_bytes=10**6, max_total_s=1.0)
    assert not list((ws.state_dir / "downloads").glob("*"))
