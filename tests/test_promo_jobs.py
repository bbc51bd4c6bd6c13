"""Promo jobs end to end through the CLI: words from a fake OpenAI-compatible server on loopback
(good, down), the voice, the AI cache across runs, the queue (add, show, render, stats), CSV bulk."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_farm
from fake_openai import FakeOpenAI
from farm.samples import make_audio
from farm.workspace import init_workspace

FAST = '[render]\nfps = 10\npreset = "ultrafast"\n'


@pytest.fixture
def ws(tmp_path):
    ws, _ = init_workspace(tmp_path / "ws")
    (ws.root / "farm.toml").write_text(FAST, encoding="utf-8")
    music = make_audio(tmp_path / "upbeat.m4a", seconds=4.0, hz=523.0)
    r = run_farm("--workspace", str(ws.root), "media", "import", str(music), "--mood", "upbeat", "--license", "cc0",
                 "-q")
    assert r.returncode == 0, r.stderr
    return ws


def product(tmp_path: Path, name: str = "Áo thun cotton Việt Nam", **extra) -> Path:
    for k, (w, h) in enumerate(((600, 800), (800, 600))):
        Image.new("RGB", (w, h), ((40 + 90 * k) % 256, 120, 200 - 60 * k)).save(tmp_path / f"img{k}.jpg", quality=90)
    doc = {"name": name, "price": 129000, "currency": "VND", "images": ["img0.jpg", "img1.jpg"],
           "selling_points": ["Vải cotton thoáng mát", "Giao hàng miễn phí"], "affiliate_url": "https://shope.ee/x1",
           "call_to_action": "Mua ngay", "language": "vi", "platforms": ["tiktok", "youtube", "facebook"],
           "mood": "upbeat", **extra}
    path = tmp_path / f"{abs(hash(name)) % 10_000}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def ai_env(server: FakeOpenAI) -> dict:
    return {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.base_url}


def test_promo_with_ai_text_and_voice_then_from_the_cache(ws, tmp_path):
    prod = product(tmp_path)
    with FakeOpenAI() as server:
        args = ("--workspace", str(ws.root), "promo", str(prod), "-o", str(tmp_path / "p.mp4"), "--duration", "20",
                "--voice", "--json", "-q")
        r = run_farm(*args, env=ai_env(server))
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        asked = len(server.requests)
        assert doc["text_source"] == "ai" and doc["ai_tokens"] > 0 and doc["voice"] is True
        assert doc["frames"] == 200 and Path(doc["path"]).exists()
        # the AI's Vietnamese words, NFC, on screen and in every post
        assert doc["hook"] == unicodedata.normalize("NFC", doc["hook"]) and "mát lạnh" in doc["hook"]
        posts = doc["posts"]
        assert set(posts) == {"tiktok", "youtube", "facebook"}
        assert posts["tiktok"]["flags"]["is_aigc"] is True  # a synthetic voice speaks
        assert posts["youtube"]["flags"]["containsSyntheticMedia"] is True
        assert posts["tiktok"]["link_placement"] == "bio" and "shope.ee/x1" not in posts["tiktok"]["description"]
        assert "shope.ee/x1" in posts["youtube"]["description"] and posts["youtube"]["disclosure"]
        speech = [q for q in server.requests if q["path"].endswith("/audio/speech")]
        assert len(speech) == 4  # hook, two selling lines, call to action
        # the spoken lines are in the sound: the fake speaks a 440 Hz tone over 523 Hz music
        with av.open(doc["path"]) as c:
            audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1).mean(axis=0)
        spectrum = np.abs(np.fft.rfft(audio[: 48_000 * 3]))
        freqs = np.fft.rfftfreq(len(audio[: 48_000 * 3]), 1 / 48_000)
        assert spectrum[(freqs > 435) & (freqs < 445)].max() > 20 * np.median(spectrum)
        # the same promo again: every answer from the catalog's AI cache, no request
        r = run_farm(*args, env=ai_env(server))
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == asked
        again = json.loads(r.stdout)
        assert again["hook"] == doc["hook"] and again["voice"] is True


def test_promo_when_the_ai_server_is_down(ws, tmp_path):
    prod = product(tmp_path)
    with FakeOpenAI(default="500") as server:
        r = run_farm("--workspace", str(ws.root), "promo", str(prod), "-o", str(tmp_path / "p.mp4"), "--duration",
                     "20", "--voice", "--json", "-q", env=ai_env(server))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["text_source"] == "fallback" and "500" in doc["text_source_reason"]
    assert doc["voice"] is False and doc["voice_reason"]
    assert "template writer" in r.stderr and "no voice-over" in r.stderr
    assert "Giá chỉ 129.000₫" in doc["posts"]["youtube"]["description"]
    for p, post in doc["posts"].items():
        assert post["text_source"] == "fallback" and post["text_source_reason"]
    assert Path(doc["path"]).exists()


def test_queue_promo_show_render_and_stats(ws, tmp_path):
    root = str(ws.root)
    r = run_farm("--workspace", root, "products", "import", str(product(tmp_path)), "--license", "owned", "--json")
    pid = json.loads(r.stdout)["added"][0]["id"]
    r = run_farm("--workspace", root, "queue", "add", "promo", str(pid), "--platform", "tiktok", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["kind"] == "promo" and job["platform"] == "tiktok" and job["text_source"] == "fallback"
    assert list(job["post_metadata"]) == ["tiktok"] and job["product_id"] == pid
    r = run_farm("--workspace", root, "queue", "show", str(job["id"]))
    assert r.returncode == 0 and "[tiktok]" in r.stdout and "link (bio): https://shope.ee/x1" in r.stdout
    r = run_farm("--workspace", root, "queue", "render", "--json")
    assert r.returncode == 0, r.stderr
    r = run_farm("--workspace", root, "queue", "show", str(job["id"]), "--json")
    shown = json.loads(r.stdout)
    assert shown["state"] == "ready" and Path(shown["output_path"]).exists() and shown["frames"] == 240
    roles = {i["role"] for i in shown["inputs"]}
    assert roles == {"image", "music"}
    stats = json.loads(run_farm("--workspace", root, "queue", "stats", "--json").stdout)
    assert stats["text"] == {"ai_tokens": 0, "by_source": {"fallback": 1}}
    r = run_farm("--workspace", root, "products", "list", "--json")
    assert json.loads(r.stdout)[0]["times_promoted"] == 1


def test_queue_promos_from_a_csv_and_refusals(ws, tmp_path):
    root = str(ws.root)
    Image.new("RGB", (500, 500), (200, 40, 40)).save(tmp_path / "a.png")
    Image.new("RGB", (300, 600), (40, 200, 40)).save(tmp_path / "b.png")
    csv = tmp_path / "products.csv"
    csv.write_text("name,price,currency,images,selling_points,language,platforms\n"
                   "Nồi chiên,1590000,VND,a.png,Tiết kiệm điện,vi,tiktok|youtube\n"
                   "Phone stand,12.99,USD,b.png,Folds flat,en,youtube\n", encoding="utf-8")
    r = run_farm("--workspace", root, "queue", "add", "promo", "--csv", str(csv), "--json")
    assert r.returncode == 0, r.stderr
    jobs = json.loads(r.stdout)
    assert [j["kind"] for j in jobs] == ["promo", "promo"]
    assert jobs[1]["post_metadata"]["youtube"]["language"] == "en"
    # for publishing, images whose licence is unknown are refused, naming them
    r = run_farm("--workspace", root, "queue", "add", "promo", "1", "--platform", "tiktok")
    assert r.returncode != 0 and "licence unknown" in r.stderr and r.stderr.count("\n") == 1
    r = run_farm("--workspace", root, "queue", "add", "promo", "2", "--platform", "tiktok")
    assert r.returncode == 2 and "not for tiktok" in r.stderr


def test_nightly_dry_run_lists_the_promos_it_would_plan(ws, tmp_path):
    root = str(ws.root)
    for k, platforms in enumerate((["tiktok"], ["youtube"])):
        Image.new("RGB", (300, 500), (50 * k, 90, 160)).save(tmp_path / f"i{k}.png")
        (tmp_path / f"p{k}.yaml").write_text(yaml.safe_dump({"name": f"Item {k}", "price": 10 + k, "currency": "USD",
                                                             "images": [f"i{k}.png"], "platforms": platforms}),
                                             encoding="utf-8")
        assert run_farm("--workspace", root, "products", "import", str(tmp_path / f"p{k}.yaml"), "-q").returncode == 0
    r = run_farm("--workspace", root, "nightly", "--count", "0", "--promos", "3", "--platform", "youtube",
                 "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["plan"] == [] and [p["name"] for p in doc["promos"]] == ["Item 1"] * 3
    assert all(p["platform"] == "youtube" for p in doc["promos"])
