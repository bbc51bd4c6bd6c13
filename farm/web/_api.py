"""The JSON API under /api/v1: the same functions the CLI calls, one short catalog read or write a request."""

from __future__ import annotations

import functools
import inspect
import json
import re
import shutil
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictInt

import catalogs
from farm.errors import InputError
from farm.web import _files
from farm.web._app import FarmJSONResponse, NotFound
from farm.web._auth import require_api_auth
from farm.web._state import web_state



async def _authenticated(request: Request) -> None:
    await require_api_auth(request)


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_authenticated)], tags=["api"])
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _route(method: str, path: str, status: int = 200):
    """Register ``fn`` on the router with its result sent as ``farm ... --json`` prints it (FastAPI's own
    encoder would write datetimes differently from the CLI); returns ``fn`` itself, callable by the others."""

    def wrap(fn):
        def respond(doc):
            return doc if isinstance(doc, Response) else FarmJSONResponse(doc, status_code=status)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def handler(*args, **kwargs):
                return respond(await fn(*args, **kwargs))
        else:
            @functools.wraps(fn)
            def handler(*args, **kwargs):
                return respond(fn(*args, **kwargs))
        getattr(router, method)(path, status_code=status)(handler)
        return fn

    return wrap


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobIn(_Body):
    kind: Literal["mashup", "promo"]
    # ids are whole numbers, never true/false or "1" (strict: pydantic would coerce them)
    main: StrictInt | list[StrictInt] | None = None
    template: StrictInt | None = None
    music: StrictInt | None = None
    mood: str | None = None
    product: StrictInt | None = None
    platform: str | None = None
    caption: str | None = Field(default=None, max_length=500)
    seed: StrictInt = 0


class MediaPatch(_Body):
    license: str | None = None
    mood: str | None = None
    category: str | None = None


class MediaUrl(_Body):
    url: str = Field(max_length=2000)
    kind: str | None = None
    mood: str | None = None
    license: str | None = None


class NightlyIn(_Body):
    count: StrictInt | None = Field(default=None, ge=1, le=10_000)
    platform: list[str] | None = None
    seed: StrictInt | None = None


class NoBody(_Body):
    """A body for routes that take none: an empty JSON object at most, anything else is refused."""


def _ws(request: Request):
    return web_state(request).ws


def _check(value, allowed, what: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"Invalid {what} ({value!r}). Supported: {', '.join(allowed)}.")


def _platforms() -> tuple[str, ...]:
    from farm.platforms import platform_names

    return tuple(platform_names())


PAGE_ROWS = 100  # a list's default page: ask for more with limit (at most 100,000), walk on with offset

# -- jobs -------------------------------------------------------------------------------------
@_route("get", "/jobs")
def list_jobs(request: Request, state: str | None = None, kind: str | None = None, platform: str | None = None,
              limit: int = Query(PAGE_ROWS, ge=1, le=100_000), offset: int = Query(0, ge=0, le=1_000_000_000)):
    """What `farm queue list --json` prints (same keys, same order), filtered and paged (``limit`` rows from
    ``offset``; 100 by default, so a farm of 100,000 jobs answers in one short read)."""
    _check(state, catalogs.JOB_STATES, "state")
    _check(kind, catalogs.JOB_KINDS, "kind")
    _check(platform, _platforms(), "platform")
    with _ws(request).catalog.read() as con:
        return catalogs.list_jobs(con, state=state, kind=kind, platform=platform, limit=limit, offset=offset)


def job_or_404(ws, job_id: int) -> dict:
    from farm.jobs import job_detail

    with ws.catalog.read() as con:
        job = job_detail(con, job_id)
    if job is None:
        raise NotFound(f"job {job_id}: no such job")
    return job


@_route("get", "/jobs/{job_id}")
def show_job(request: Request, job_id: int):
    """What `farm queue show ID --json` prints: the job, its inputs, sub-ids and post text."""
    return job_or_404(_ws(request), job_id)


@_route("get", "/jobs/{job_id}/log")
def job_log(request: Request, job_id: int):
    """The job's history, as `farm logs ID --json` prints under ``log``."""
    ws = _ws(request)
    with ws.catalog.read() as con:
        if catalogs.get_job(con, job_id) is None:
            raise NotFound(f"job {job_id}: no such job")
        return catalogs.job_log(con, job_id)


@_route("post", "/jobs", 201)
def add_job(request: Request, body: JobIn):
    """Queue a mashup (as `farm queue add mashup`) or a promo (as `farm queue add promo ID`)."""
    from farm.jobs import enqueue_mashup, enqueue_promo, make_writer

    ws = _ws(request)
    _check(body.platform, _platforms(), "platform")
    if body.kind == "mashup":
        if body.main is None or body.product is not None:
            raise InputError("a mashup needs main (a media id or a list of them) and no product")
        mains = body.main if isinstance(body.main, list) else [body.main]
        job = enqueue_mashup(ws, mains=mains, template=body.template, music=body.music, mood=body.mood,
                             platform=body.platform, caption=body.caption, seed=body.seed)
        return job_or_404(ws, job["id"])
    if body.product is None or body.main is not None:
        raise InputError("a promo needs product (a product id) and no main")
    job_id = enqueue_promo(ws, body.product, platform=body.platform, seed=body.seed, writer=make_writer(ws, ws.settings),
                           template=body.template)
    return job_or_404(ws, job_id)


@_route("post", "/jobs/{job_id}/retry")
def retry_job(request: Request, job_id: int):
    from farm.jobs import retry_jobs

    job_or_404(_ws(request), job_id)
    return {"retried": retry_jobs(_ws(request), job_id)}


@_route("post", "/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: int):
    from farm.jobs import cancel_job as cancel

    job_or_404(_ws(request), job_id)
    return {"id": job_id, "state": "cancelled", "was": cancel(_ws(request), job_id)}


@_route("get", "/jobs/{job_id}/video")
def job_video(request: Request, job_id: int, download: bool = False):
    """The job's output, with HTTP Range; ``?download=1`` as an attachment."""
    return _files.job_video(_ws(request), job_id, download=download)


@_route("get", "/jobs/{job_id}/thumbnail")
def job_thumbnail(request: Request, job_id: int):
    return _files.job_thumbnail(web_state(request), job_id)


# -- accounts ---------------------------------------------------------------------------------
@_route("get", "/accounts")
def list_accounts(request: Request):
    """What `farm accounts list --json` lists (never a token)."""
    from farm.publish import list_account_rows

    return list_account_rows(_ws(request))


@_route("post", "/accounts/{account_id}/{action}")
def change_account(request: Request, account_id: int, action: Literal["enable", "disable"]):
    from farm.publish import set_active

    acc = set_active(_ws(request), str(account_id), action == "enable")
    return {"id": acc["id"], "platform": acc["platform"], "name": acc["username"], "action": f"{action}d"}


# -- media ------------------------------------------------------------------------------------
@_route("get", "/media")
def list_media(request: Request, kind: str | None = None, mood: str | None = None, license: str | None = None,
               limit: int = Query(PAGE_ROWS, ge=1, le=100_000), offset: int = Query(0, ge=0, le=1_000_000_000)):
    """What `farm media list --json` prints, filtered and paged (100 rows by default)."""
    _check(kind, catalogs.MEDIA_KINDS, "kind")
    _check(license, catalogs.LICENSES, "license")
    with _ws(request).catalog.read() as con:
        return catalogs.list_media(con, kind=kind, mood=mood, license=license, limit=limit, offset=offset)


@_route("get", "/media/{media_id}")
def show_media(request: Request, media_id: int):
    with _ws(request).catalog.read() as con:
        row = catalogs.get_media(con, media_id)
        if row is None:
            raise NotFound(f"media {media_id}: no such media")
        row["jobs"] = catalogs.jobs_using(con, media_id)
    return row


@_route("patch", "/media/{media_id}")
def patch_media(request: Request, media_id: int, body: MediaPatch):
    from farm.library import update_media

    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InputError("media update: nothing to change (give license, mood or category)")
    show_media(request, media_id)
    return update_media(_ws(request), media_id, changes)


@_route("get", "/media/{media_id}/thumbnail")
def media_thumbnail(request: Request, media_id: int):
    return _files.media_thumbnail(web_state(request), media_id)


def _import_report(report) -> dict:
    return {"added": report.added, "duplicates": report.duplicates,
            "failed": [{"item": i, "error": e} for i, e in report.failed]}


async def _save_upload(request: Request, field: str = "file") -> tuple[Path, dict]:
    """The uploaded file saved under .farm/web/uploads/ (a fresh folder, a cleaned name), capped at the
    import cap; returns its path and the other form fields."""
    ws = _ws(request)
    cap = ws.settings.media.max_download_bytes
    if int(request.headers.get("content-length") or 0) > cap + 65536:
        raise InputError(f"upload too large: the cap is {cap} bytes ([media] max_download_bytes)")
    form = await request.form()
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        raise InputError(f"multipart upload: no file in the field {field!r}")
    name = _SAFE_NAME.sub("_", Path(upload.filename or "upload").name).lstrip("._")[:100] or "upload"
    folder = ws.state_dir / "web" / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > cap:
                out.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise InputError(f"upload too large: the cap is {cap} bytes ([media] max_download_bytes)")
            out.write(chunk)
    return path, {k: v for k, v in form.items() if isinstance(v, str)}


@_route("post", "/media", 201)
async def add_media(request: Request):
    """Import media: a multipart upload (field ``file``; ``kind``, ``mood``, ``license`` optional) or JSON
    ``{"url": ...}`` through the downloader; capped at ``[media] max_download_bytes``."""
    from farm.library import ImportOptions, import_media

    ws = _ws(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = MediaUrl.model_validate_json(await request.body())
        except ValueError as err:
            raise InputError(f"body: {_first_error(err)}") from None
        if not re.match(r"https?://", body.url):
            raise InputError(f"url: only http(s) URLs can be imported, not {body.url[:80]!r}")
        opts = ImportOptions(kind=body.kind, mood=body.mood, license=body.license, source_url=body.url)
        report = await run_in_threadpool(import_media, ws, [body.url], opts)
        return _import_report(report)
    from farm.library import import_file

    path, fields = await _save_upload(request)
    try:
        opts = ImportOptions(kind=fields.get("kind") or None, mood=fields.get("mood") or None,
                             license=fields.get("license") or None)
        _check(opts.kind, catalogs.MEDIA_KINDS, "kind")
        _check(opts.license, catalogs.LICENSES, "license")
        # moved into the library as `farm media import` places a file (the upload folder is only a landing)
        outcome, row = await run_in_threadpool(lambda: import_file(ws, path, opts, origin=path.name, move=True,
                                                                   name=path.name))
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return {"added": [row] if outcome == "added" else [], "duplicates": [row] if outcome == "duplicate" else [],
            "failed": []}


def _first_error(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        return f"{'.'.join(map(str, first.get('loc', ()))) or 'body'}: {first.get('msg')}"
    return str(err).splitlines()[0]


# -- products ---------------------------------------------------------------------------------
def _product_view(row: dict, settings) -> dict:
    """The row as `farm products list/show --json` prints it: ``price_shown``, ``tracking``, ``tracked``."""
    from farm.revenue import tracking_for
    from farm.text import format_price

    row["price_shown"] = format_price(row["price"], row["currency"])
    said = tracking_for(row, settings.affiliate)
    row["tracking"], row["tracked"] = said["tracking"], said["tracked"]
    return row


@_route("get", "/products")
def list_products(request: Request, language: str | None = None):
    ws = _ws(request)
    _check(language, catalogs.LANGUAGES, "language")
    with ws.catalog.read() as con:
        return [_product_view(r, ws.settings) for r in catalogs.list_products(con, language=language)]


@_route("get", "/products/{product_id}")
def show_product(request: Request, product_id: int):
    ws = _ws(request)
    with ws.catalog.read() as con:
        row = catalogs.get_product(con, product_id)
    if row is None:
        raise NotFound(f"product {product_id}: no such product")
    return _product_view(row, ws.settings)


def _import_uploaded_products(ws, path: Path, license: str | None):
    from farm.library import import_products, read_products

    for defn in read_products(path):  # images must be URLs: a path in an uploaded file would reach our disk
        local = [i for i in defn.images if not re.match(r"https?://", i)]
        if local:
            raise InputError(f"{path.name}: {defn.source}: images of an uploaded product file must be http(s) URLs")
    return import_products(ws, [str(path)], license=license)


@_route("post", "/products", 201)
async def add_products(request: Request):
    """Import an uploaded product file (YAML, JSON or CSV, field ``file``); its images must be URLs."""
    ws = _ws(request)
    path, fields = await _save_upload(request)
    try:
        _check(fields.get("license") or None, catalogs.LICENSES, "license")
        report = await run_in_threadpool(_import_uploaded_products, ws, path, fields.get("license") or None)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    doc = {"added": [_product_view(r, ws.settings) for r in report.added],
           "duplicates": [_product_view(r, ws.settings) for r in report.duplicates],
           "failed": [{"item": Path(i).name, "error": e.replace(str(path), path.name)} for i, e in report.failed]}
    if report.failed and not (report.added or report.duplicates):
        raise InputError(doc["failed"][0]["error"])
    return doc


# -- alerts, metrics, revenue, schedule -----------------------------------------------------------
@_route("get", "/alerts")
def alerts(request: Request, days: float | None = Query(None, gt=0, le=3650)):
    """As `farm alerts --json`: the open alerts, or every alert of the last ``days``."""
    with _ws(request).catalog.read() as con:
        if days is not None:
            return catalogs.recent_alerts(con, catalogs.utcnow() - timedelta(days=days))
        return catalogs.open_alerts(con)


@_route("get", "/metrics")
def metrics(request: Request):
    """The queue's counts (as `farm queue stats --json`) and the number of open alerts."""
    with _ws(request).catalog.read() as con:
        return {"queue": catalogs.queue_stats(con), "open_alerts": len(catalogs.open_alerts(con))}


@_route("get", "/revenue")
def revenue(request: Request, by: Literal["video", "product", "platform"] = "video", days: int = 30):
    """As `farm revenue --json`."""
    from farm.revenue import check_revenue_days, revenue_report

    return revenue_report(_ws(request), days=check_revenue_days(days), by=by)


@_route("get", "/schedule")
def schedule(request: Request):
    """The tasks the unattended schedule runs (as `farm schedule` lists them)."""
    from farm.schedule import scheduled_tasks

    return [{"task": t.name, "cron": t.cron, "command": list(t.argv)} for t in scheduled_tasks(_ws(request))]


# -- long work: its own process -------------------------------------------------------------------
def _start(request: Request, what: str, args: list[str]) -> dict:
    """Start ``python -m farm --workspace WS <args>`` as its own process; its output to .farm/web/."""
    state = web_state(request)
    runs: dict = state.extra.setdefault("runs", {})
    lock = state.extra.setdefault("runs_lock", threading.Lock())
    with lock:
        last = runs.get(what)
        if last and last["proc"].poll() is None:
            raise InputError(f"a {what} run is already going (run {last['run_id']})")
        run_id = uuid.uuid4().hex[:12]
        folder = state.ws.state_dir / "web"
        folder.mkdir(parents=True, exist_ok=True)
        out, err = folder / f"{what}-{run_id}.json", folder / f"{what}-{run_id}.log"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen([sys.executable, "-m", "farm", "--workspace", str(state.ws.root), *args],
                                    stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True)
        runs[what] = {"run_id": run_id, "proc": proc, "out": out, "log": err}
    return {"run_id": run_id, "running": True}


def _progress(request: Request, what: str) -> dict:
    state = web_state(request)
    run = state.extra.get("runs", {}).get(what)
    with state.ws.catalog.read() as con:
        queue = catalogs.queue_stats(con)
    if run is None:
        return {"run_id": None, "running": False, "queue": queue}
    code = run["proc"].poll()
    doc = {"run_id": run["run_id"], "running": code is None, "returncode": code, "queue": queue}
    if code is not None:
        try:
            doc["result"] = json.loads(run["out"].read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            doc["result"] = None
        tail = run["log"].read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        doc["errors"] = tail
    return doc


@_route("post", "/nightly", 202)
def start_nightly(request: Request, body: NightlyIn | None = None):
    """Start `farm nightly` as its own process; returns its run id."""
    body = body or NightlyIn()
    args = ["nightly", "-q", "--json"]
    if body.count is not None:
        args += ["--count", str(body.count)]
    for p in body.platform or ():
        _check(p, _platforms(), "platform")
        args += ["--platform", p]
    if body.seed is not None:
        args += ["--seed", str(body.seed)]
    return _start(request, "nightly", args)


@_route("get", "/nightly")
def nightly_progress(request: Request):
    """The last nightly run started here (running or its result) and the queue's counts."""
    return _progress(request, "nightly")


async def _refuse_body(request: Request) -> None:
    """For routes that take no options: a JSON body other than ``{}`` is refused before anything starts
    (a form's fields, such as the page button's CSRF token, are not options)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await request.body()
        if raw.strip():
            try:
                NoBody.model_validate_json(raw)
            except ValueError as err:
                raise InputError(f"body: {_first_error(err)}") from None


@_route("post", "/queue/render", 202)
async def start_queue_render(request: Request):
    """Start rendering the pending queue (`farm queue render`) as its own process; returns its run id."""
    await _refuse_body(request)
    return await run_in_threadpool(_start, request, "render", ["queue", "render", "-q", "--json"])


@_route("get", "/queue/render")
def queue_render_progress(request: Request):
    """The last queue render started here (running or its result) and the queue's counts."""
    return _progress(request, "render")


@_route("post", "/publish", 202)
async def start_publish(request: Request):
    """Start one publish pass (`farm publish --once`) as its own process; returns its run id."""
    await _refuse_body(request)
    return await run_in_threadpool(_start, request, "publish", ["publish", "--once", "-q", "--json"])


@_route("get", "/publish")
def publish_progress(request: Request):
    return _progress(request, "publish")

