"""`make run`: a demo workspace stocked with generated sample media, then a few rendered jobs."""

from __future__ import annotations

import sys
from pathlib import Path

from farm.library import ImportOptions, import_media
from farm.samples import make_audio, make_video
from farm.workspace import Workspace, init_workspace

# (file, kind, licence, extra import options, maker)
_SAMPLES = [
    ("street-1080p.mp4", "source", "owned", {}, dict(width=1920, height=1080, seed=11, audio_hz=330.0)),
    ("dance-portrait.mp4", "source", "cc-by", {"creator": "@dancer"}, dict(width=1080, height=1920, seed=12, audio_hz=392.0)),
    ("city-720p.mp4", "source", "owned", {}, dict(width=1280, height=720, seed=14)),
    ("cooking-square.mp4", "source", "cc0", {}, dict(width=1080, height=1080, seed=15, audio_hz=262.0)),
    ("template-waves.mp4", "template", "owned", {}, dict(width=1080, height=1920, seed=13, short=True)),
    ("template-bars.mp4", "template", "owned", {}, dict(width=720, height=1280, seed=16, short=True)),
]
_MUSIC = [("upbeat-523hz.m4a", "upbeat", 523.25), ("calm-349hz.m4a", "calm", 349.23)]
# two products for the promos: a Vietnamese one and an English one, photos of several shapes
_PRODUCTS = [
    {"name": "Bình giữ nhiệt inox 500ml", "price": 259000, "currency": "VND",
     "images": [("binh-1.jpg", 1200, 1600), ("binh-2.png", 1600, 1200), ("binh-3.webp", 1000, 1000)],
     "selling_points": ["Giữ nóng 12 giờ, giữ lạnh 24 giờ", "Inox 304 an toàn cho sức khỏe", "Nắp chống tràn"],
     "affiliate_url": "https://shope.ee/demo-binh", "call_to_action": "Mua ngay hôm nay!", "language": "vi",
     "platforms": ["tiktok", "youtube", "facebook"], "mood": "upbeat"},
    {"name": "Foldable phone stand", "price": 12.99, "currency": "USD",
     "images": [("stand-1.jpg", 1080, 1920), ("stand-2.jpg", 1920, 1080)],
     "selling_points": ["Fits every phone and tablet", "Folds flat into a pocket"],
     "affiliate_url": "https://example.com/aff/stand", "call_to_action": "Shop now", "language": "en",
     "platforms": ["tiktok", "youtube"], "mood": "calm"},
]


def prepare_demo_workspace(root: str | Path, *, seconds: float = 6.0, log=sys.stderr) -> Workspace:
    """Create (or reuse) a workspace at ``root`` and import generated sample media into it."""
    import tempfile

    import catalogs

    ws, _ = init_workspace(root)
    with ws.catalog.read() as con:
        has_media, has_products = bool(catalogs.list_media(con, limit=1)), bool(catalogs.list_products(con))
    if has_media and has_products:
        return ws  # stocked by an earlier run
    with tempfile.TemporaryDirectory(prefix="farm-samples-") as tmp:
        if has_media:  # a workspace from before promos: add the products only
            _stock_products(ws, Path(tmp), log=log)
        else:
            _stock(ws, Path(tmp), seconds=seconds, log=log)
    return ws


def _stock(ws: Workspace, incoming: Path, *, seconds: float, log) -> None:
    items: list[tuple[Path, ImportOptions]] = []
    for name, kind, licence, extra, params in _SAMPLES:
        path = incoming / name
        params = dict(params)
        length = 3.0 if params.pop("short", False) else seconds
        if not path.exists():
            print(f"generating sample {name}", file=log)
            make_video(path, seconds=length, **params)
        items.append((path, ImportOptions(kind=kind, license=licence, **extra)))
    for name, mood, hz in _MUSIC:
        path = incoming / name
        if not path.exists():
            print(f"generating sample {name}", file=log)
            make_audio(path, seconds=seconds + 2, hz=hz)
        items.append((path, ImportOptions(kind="audio", mood=mood, license="cc0")))
    for path, opts in items:
        report = import_media(ws, [str(path)], opts)
        if report.failed:
            raise RuntimeError(report.failed[0][1])
    _stock_products(ws, incoming, log=log)


def _stock_products(ws: Workspace, incoming: Path, *, log) -> None:
    import yaml

    from farm.library import import_products
    from farm.samples import make_product_image

    for k, product in enumerate(_PRODUCTS):
        doc = dict(product)
        names = []
        for j, (name, w, h) in enumerate(product["images"]):
            print(f"generating sample {name}", file=log)
            make_product_image(incoming / name, width=w, height=h, seed=100 * k + j, label=f"#{j + 1}")
            names.append(name)
        doc["images"] = names
        path = incoming / f"product-{k}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        report = import_products(ws, [str(path)], license="owned")
        if report.failed:
            raise RuntimeError(report.failed[0][1])


def run_demo(out_dir: str | Path, *, seconds: float = 6.0, jobs: int = 6, promos: int = 2, in_process: bool = False,
             on_event=None):
    """Stock a demo workspace, then render ``jobs`` mashups for TikTok and YouTube and ``promos``
    product promos (their words from the AI server when OPENAI_API_KEY is set, else the
    template writer).

    By default the jobs go through `farm nightly` on a local Ray; ``in_process`` renders
    them with `farm queue render` instead. Returns (workspace, summary).
    """
    import catalogs
    from farm.batch import render_queue, run_nightly
    from farm.jobs import enqueue_mashup

    ws = prepare_demo_workspace(out_dir, seconds=seconds)
    if not in_process:
        from actors import RenderWorker

        return ws, run_nightly(ws, worker_class=RenderWorker, count=jobs, platforms=["tiktok", "youtube"],
                               mood="upbeat", seed=7, caption="Giá chỉ 199.000đ – Mua ngay!", promos=promos,
                               on_event=on_event)
    with ws.catalog.read() as con:
        sources = [m["id"] for m in catalogs.list_media(con, kind="source")]
    for i in range(jobs):
        enqueue_mashup(ws, mains=[sources[i % len(sources)]], mood=("upbeat", "calm")[i % 2], platform="tiktok",
                       caption="Giá chỉ 199.000đ – Mua ngay!" if i % 2 == 0 else "Wait for the end", seed=i)
    if promos:
        from farm.jobs import plan_promos

        plan_promos(ws, count=promos, platforms=["tiktok", "youtube"], seed=7)
    return ws, render_queue(ws)


def publish_demo(ws: Workspace, *, in_process: bool = False, reporter=None):
    """Publish the demo's ready videos to the ``local`` platform: a local account named ``outbox``
    (added on first use) receives each video and a JSON of its post metadata in ``outbox/outbox/``."""
    import catalogs
    from farm.publish import add_account, sweep

    with ws.catalog.read() as con:
        has_local = any(a["platform"] == "local" for a in catalogs.list_accounts(con))
    if not has_local:
        # a demo posts a video every minute it likes: no cap, gap or window in the way
        add_account(ws, "local", username="outbox", token_file=None, daily_cap=1000, min_gap_min=0)
    if in_process:
        return sweep(ws, local=True, reporter=reporter)
    from actors import Uploader

    return sweep(ws, local=False, reporter=reporter, uploader=Uploader)
