"""A fifth platform, defined in this one module (a descriptor and its client, registered), runs through post
metadata, the file check, the safe area, account assignment, publishing, statistics and the CLI, with no
other file changed: the farm reads descriptors, never a platform's name.

"Vidwall" is made up: vertical videos up to 60 s, a 40-character title, 4 hashtags, an app
password instead of OAuth, 2 posts an hour per account, a publish call made once, and its API
is a small server on loopback.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import catalogs
from farm.cli import main as farm_main
from farm.errors import PolicyError, RetryableError
from farm.platforms import (
    AccountInfo,
    Limit,
    Platform,
    PlatformClient,
    PlatformSpec,
    RemoteSession,
    RemoteState,
    Secret,
    Statistics,
    TextRules,
    TokenRules,
    UploadRequest,
    VideoStats,
    platform_names,
    register,
    unregister,
)
from farm.publish import build_post_metadata, check_upload, sweep
from farm.render import safe_area
from publishing import ready_job, token_file, vertical_video, workspace

API: dict[str, str] = {}  # the fake API's address, set by the fixture


class VidwallClient(PlatformClient):
    """Vidwall's API: POST /v1/uploads (a session), PUT the bytes, POST .../publish (once), GET the upload,
    GET /v1/stats?ids=a,b."""

    platform = "vidwall"

    def _call(self, method: str, path: str, token: Secret, **kw) -> dict:
        resp = self._request(method, API["url"] + path, what=path, token=token, **kw)
        if resp.status_code >= 500:
            raise RetryableError(f"vidwall {path}: HTTP {resp.status_code}")
        if not resp.is_success:
            raise PolicyError(f"vidwall {path}: HTTP {resp.status_code} {resp.text}", reason=resp.text)
        return resp.json()

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        return AccountInfo(("public", "unlisted"), max_duration_s=60)

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        body = self._call("POST", "/v1/uploads", token, json={"size": request.size_bytes, "caption": request.description,
                                                              "sponsored": request.flags.get("sponsored", False)})
        return RemoteSession(platform=self.platform, handle=body["id"], chunk_bytes=request.size_bytes)

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        self._call("PUT", f"/v1/uploads/{session.handle}", token, content=request.path.read_bytes()[offset:])
        return RemoteState("uploaded", received_bytes=request.size_bytes)

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        body = self._call("GET", f"/v1/uploads/{session.handle}", token)
        if body["published"]:
            return RemoteState("published", request.size_bytes, remote_id=body["id"],
                               remote_url=VIDWALL.video_url(body["id"]), privacy="public")
        return RemoteState("uploaded" if body["received"] == request.size_bytes else "uploading", body["received"])

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        self._call("POST", f"/v1/uploads/{session.handle}/publish", token)
        return self.query(token, session, request)

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        body = self._call("GET", "/v1/stats", token, params={"ids": ",".join(ids)})
        return {i: VideoStats(i, True, views=body[i]["plays"], likes=body[i]["hearts"], comments=0, shares=0)
                for i in ids}


class VidwallPlatform(Platform):
    name = "vidwall"
    label = "Vidwall"
    client_class = VidwallClient
    privacy = ("public", "unlisted")
    spec = PlatformSpec(name="Vidwall", containers=frozenset({"mp4"}), video_codecs=frozenset({"h264"}),
                        max_duration_s=60.0, aspect="9:16")
    text = TextRules(title={"chars": 40}, description={"chars": 300}, hashtags_max=4, shows_title=False, style="short")
    safe_area = (40, 100, 40, 600)
    tokens = TokenRules(refreshable=False, noun="app password")
    limits = (Limit(counts="posts", per="account", most=2, window=timedelta(hours=1),
                    text="Vidwall's limit of {most} posts an hour"),)
    finish = "once"
    stats = Statistics(batch=10)

    def upload_flags(self, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
        return {"sponsored": affiliate}

    def video_url(self, remote_id: str, **_) -> str:
        return f"https://vidwall.example/v/{remote_id}"


VIDWALL = VidwallPlatform()


class _Api(BaseHTTPRequestHandler):
    uploads: dict[str, dict] = {}
    publish_calls: dict[str, int] = {}

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_POST(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != "Bearer app-password-1":
            return self._answer(401, {"error": "bad password"})
        body = self._body()
        if self.path == "/v1/uploads":
            uid = f"vw{len(_Api.uploads) + 1}"
            _Api.uploads[uid] = {"id": uid, "size": json.loads(body)["size"], "data": b"", "published": False}
            return self._answer(200, {"id": uid})
        uid = self.path.split("/")[3]
        _Api.publish_calls[uid] = _Api.publish_calls.get(uid, 0) + 1
        up = _Api.uploads[uid]
        if up["published"] or len(up["data"]) != up["size"]:
            return self._answer(409, {"error": "not publishable"})
        up["published"] = True
        return self._answer(200, {"ok": True})

    def do_PUT(self) -> None:  # noqa: N802
        up = _Api.uploads[self.path.split("/")[3]]
        up["data"] += self._body()
        self._answer(200, {"received": len(up["data"])})

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/v1/stats"):
            ids = self.path.split("ids=")[1].split("%2C") if "%2C" in self.path else self.path.split("ids=")[1].split(",")
            return self._answer(200, {i: {"plays": 100 + len(i), "hearts": 7} for i in ids})
        up = _Api.uploads[self.path.split("/")[3]]
        self._answer(200, {"id": up["id"], "received": len(up["data"]), "published": up["published"]})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def vidwall(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    API["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    _Api.uploads, _Api.publish_calls = {}, {}
    register(VIDWALL)
    try:
        yield workspace(tmp_path / "ws")
    finally:
        unregister("vidwall")
        server.shutdown()
        server.server_close()


def test_a_fifth_platform_runs_through_the_whole_farm(vidwall, tmp_path, capsys):
    ws = vidwall
    assert "vidwall" in platform_names()

    # post metadata within its limits, its link and its flags
    meta = build_post_metadata(platform="vidwall", title="Áo thun cotton 100% mềm mát thoáng khí cho mùa hè",
                               description="Mặc cả ngày không nóng.", hashtags=["a", "b", "c", "d", "e", "f"],
                               language="vi", affiliate_url="https://s.shopee.vn/abc")
    assert len(meta.title) <= 40 and len(meta.hashtags) <= 4 and meta.link_placement == "description"
    assert meta.flags == {"sponsored": True} and meta.description.startswith("#quảngcáo")

    # the file check, with its own spec
    good = vertical_video(tmp_path / "good.mp4", seconds=4.0)
    wide = vertical_video(tmp_path / "wide.mp4", seconds=4.0, width=960, height=540)
    assert check_upload(good, "vidwall").width == 540
    with pytest.raises(PolicyError, match="Vidwall refuses it: .* not 9:16"):
        check_upload(wide, "vidwall")
    box = safe_area("vidwall", width=1080, height=1920)
    assert (box.y, box.height) == (100, 1920 - 100 - 600)

    # accounts (an app password: no refresh), assignment inside its limit, publishing, statistics
    for name in ("wall_a", "wall_b"):
        assert farm_main(["--workspace", str(ws.root), "accounts", "add", "vidwall", "--name", name, "--token-file",
                          str(token_file(tmp_path, name, "app-password-1")), "--min-gap-minutes", "0",
                          "--daily-cap", "10", "--warmup-days", "0"]) == 0
    jobs = [ready_job(ws, vertical_video(ws.out_dir / f"j{i}.mp4"), platform="vidwall", affiliate=True)
            for i in range(5)]
    plan = sweep(ws, dry_run=True)
    chosen = [a["account"] for a in plan.assignments]
    assert sorted(chosen, key=str) == sorted(["vidwall:wall_a"] * 2 + ["vidwall:wall_b"] * 2 + [None], key=str)
    assert any("Vidwall's limit of 2 posts an hour" in r for a in plan.assignments for r in a["reasons"])

    capsys.readouterr()
    assert farm_main(["--workspace", str(ws.root), "publish", "--once", "--local", "--platform", "vidwall",
                      "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"published": 4}
    assert all(n == 1 for n in _Api.publish_calls.values()) and len(_Api.uploads) == 4
    for up in _Api.uploads.values():
        assert up["published"] and hashlib.sha256(up["data"]).hexdigest() in {
            hashlib.sha256((ws.out_dir / f"j{i}.mp4").read_bytes()).hexdigest() for i in range(5)}
    with ws.catalog.read() as con:
        states = [catalogs.get_job(con, j)["state"] for j in jobs]
    assert states.count("published") == 4 and states.count("ready") == 1

    from farm.monitor import collect_stats

    run = collect_stats(ws, now=catalogs.utcnow())
    assert len(run.rows) == 4 and all(r["available"] and r["views"] > 100 for r in run.rows)
