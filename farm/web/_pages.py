"""The farm's pages: HTML rendered on the server (Jinja2 + htmx) from the same catalog reads as the CLI,
each read short; a held catalog shows a busy page, never an error."""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

import catalogs
from farm.errors import BusyError, FarmError
from farm.web._auth import check_csrf, csrf_token, require_page_auth
from farm.web._i18n import page_lang, t
from farm.web._state import web_state

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
PAGE_SIZE = 50
NAV = ("overview", "queue", "library", "products", "accounts", "calendar", "analytics")
NAV_PATHS = {"overview": "/", "queue": "/queue", "library": "/library", "products": "/products",
             "accounts": "/accounts", "calendar": "/calendar", "analytics": "/analytics"}

router = APIRouter(include_in_schema=False)
_ENV: list = []


def _env():
    if not _ENV:
        import jinja2

        _ENV.append(jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                                       autoescape=True, trim_blocks=True, lstrip_blocks=True))
    return _ENV[0]


# -- auth and CSRF ---------------------------------------------------------------------------------
def csrf_value(request: Request) -> str:
    return csrf_token(request)


def _check_csrf(request: Request, value: str | None) -> None:
    """The form's ``csrf`` field, or htmx's ``X-CSRF-Token`` header; CsrfError (403) otherwise."""
    check_csrf(request, value or request.headers.get("X-CSRF-Token"))


def login_redirect(request: Request) -> Response | None:
    """None when the request may see pages; LoginRequired (the app redirects to /login) otherwise."""
    require_page_auth(request)
    return None


# -- rendering -------------------------------------------------------------------------------------
def render(request: Request, name: str, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """``templates/name`` with the language, its words, the nav and the CSRF token."""
    lang = page_lang(request)
    default = web_state(request).lang

    def url(path: str, **params) -> str:
        from urllib.parse import urlencode

        if lang != default:
            params["lang"] = lang
        params = {k: v for k, v in params.items() if v not in (None, "")}
        return path + ("?" + urlencode(params) if params else "")

    html = _env().get_template(name).render(
        request=request, lang=lang, t=lambda key: t(key, lang), url=url, nav=NAV, nav_paths=NAV_PATHS,
        path=request.url.path, csrf=csrf_value(request), connect_command=connect_command, **ctx)
    return HTMLResponse(html, status_code=status_code)


def connect_command(platform: str, name: str | None) -> str:
    """The CLI line that connects (or reconnects) an account: OAuth runs in `farm accounts connect`."""
    return f"farm accounts connect {platform}" + (f" --name {name}" if name else "")


def page(request: Request, name: str, read: Callable[[], dict], *, active: str | None = None) -> Response:
    """A page whose data ``read()`` gathers: the login first, the busy page when another process
    holds the catalog, a 404 page for a missing row."""
    redirect = login_redirect(request)
    if redirect is not None:
        return redirect
    try:
        ctx = read()
    except BusyError:
        return render(request, "busy.html", active=active)
    except LookupError as err:
        return render(request, "message.html", status_code=404, active=active, title="not_found",
                      message=str(err.args[0] if err.args else err))
    return render(request, name, active=active, **ctx)


def _ws(request: Request):
    return web_state(request).ws


def _action_done(request: Request, back: str) -> Response:
    """After a form: htmx reloads the page it came from; a plain browser is sent back (303)."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(back, status_code=303)


def _action(request: Request, do: Callable[[], Any], back: str) -> Response:
    redirect = login_redirect(request)
    if redirect is not None:
        return redirect
    try:
        do()
    except BusyError:
        return render(request, "busy.html", status_code=503)
    except FarmError as err:
        return render(request, "message.html", status_code=400, title="error", message=str(err).splitlines()[0])
    return _action_done(request, back)


# -- static files: by name from the package's own folder -------------------------------------------
@router.get("/static/{name}")
def static_file(name: str) -> Response:
    known = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    path = known.get(name)
    if path is None or path.suffix not in STATIC_TYPES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=3600"})


# -- overview --------------------------------------------------------------------------------------
def live_summary(ws, *, now: datetime | None = None) -> dict:
    """Queue counts, the latest nightly batch's progress, videos per minute and open alerts (one short read)."""
    now = now or catalogs.utcnow()
    with ws.catalog.read() as con:
        stats = catalogs.queue_stats(con)
        batches = catalogs.nightly_batches(con, since=now - timedelta(days=7))
        alerts = catalogs.open_alerts(con)
        speed = catalogs.report_render_speed(con, since=now - timedelta(hours=24))
    batch = None
    if batches:
        b = batches[-1]
        done = int(b["jobs"]) - int(b["failed"]) - int(b["unfinished"])
        batch = {"id": b["batch_id"], "jobs": int(b["jobs"]), "done": done, "failed": int(b["failed"]),
                 "pending": int(b["unfinished"]), "percent": round(100 * (done + int(b["failed"])) / max(1, int(b["jobs"])))}
    stamps = [r["at"] for r in speed if r["at"] is not None]
    minutes = (max(stamps) - min(stamps)).total_seconds() / 60 if len(stamps) > 1 else 0
    rate = round(len(stamps) / max(minutes, 1.0), 2) if stamps else 0.0
    return {"stats": {"total": stats["total"], "by_state": stats["by_state"]}, "failures": stats["failures"],
            "batch": batch, "rate": rate,
            "alerts": [{"severity": a["severity"], "message": a["message"], "raised_at": a["raised_at"]} for a in alerts]}


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    return page(request, "overview.html", lambda: {"live": live_summary(_ws(request))}, active="overview")


# -- queue and jobs --------------------------------------------------------------------------------
def _queue(ws, *, state: str | None, kind: str | None, platform: str | None, page_no: int) -> dict:
    # one page read from the catalog, newest first, and a count: not every job read to show 50 (100k jobs: ~1 s)
    where = {"state": state or None, "kind": kind or None, "platform": platform or None}
    with ws.catalog.read() as con:
        total = catalogs.count_jobs(con, **where)
        pages = max(1, -(-total // PAGE_SIZE))
        page_no = min(max(1, page_no), pages)
        rows = catalogs.list_jobs(con, **where, newest_first=True, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    return {"jobs": rows, "page_no": page_no, "pages": pages,
            "total": total, "states": catalogs.JOB_STATES, "kinds": catalogs.JOB_KINDS,
            "platforms": _platform_names(), "filters": {"state": state, "kind": kind, "platform": platform}}


def _platform_names() -> tuple[str, ...]:
    from farm.platforms import platform_names

    return tuple(platform_names())


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, state: str | None = None, kind: str | None = None, platform: str | None = None,
          page_no: int = 1) -> Response:
    return page(request, "queue.html", lambda: _queue(_ws(request), state=state, kind=kind, platform=platform,
                                                      page_no=page_no), active="queue")


def _job(ws, job_id: int) -> dict:
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, job_id)
        if job is None:
            raise LookupError(f"job {job_id}: no such job")
        log = catalogs.job_log(con, job_id)
        links = catalogs.get_links(con, job_id)
        failed_uploads = [u["platform"] for u in catalogs.list_uploads(con, job_id=job_id, states=("failed",))]
    sub_ids = {r["platform"]: r["sub_id"] for r in links if r["tracked"]}
    posts = [{"platform": p, "title": post.get("title"), "description": post.get("description"),
              "link": post.get("link"), "sub_id": post.get("sub_id") or sub_ids.get(p)}
             for p, post in (job.get("post_metadata") or {}).items()]
    has_video = bool(job.get("output_path")) and job["state"] in ("ready", "publishing", "published")
    return {"job": job, "log": log, "posts": posts, "has_video": has_video, "failed_uploads": failed_uploads,
            "can_retry": job["state"] in ("failed", "cancelled"),  # as retry_jobs expects
            "can_cancel": job["state"] in catalogs.TRANSITIONS["cancelled"]}


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int) -> Response:
    return page(request, "job.html", lambda: _job(_ws(request), job_id), active="queue")


@router.post("/jobs/{job_id}/retry")
def job_retry(request: Request, job_id: int, csrf: str = Form("")) -> Response:
    from farm.jobs import retry_jobs

    _check_csrf(request, csrf)
    return _action(request, lambda: retry_jobs(_ws(request), job_id), f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/cancel")
def job_cancel(request: Request, job_id: int, csrf: str = Form("")) -> Response:
    from farm.jobs import cancel_job

    _check_csrf(request, csrf)
    return _action(request, lambda: cancel_job(_ws(request), job_id), f"/jobs/{job_id}")


# -- library ---------------------------------------------------------------------------------------
def _media_card(row: dict) -> dict:
    return {"id": row["id"], "kind": row["kind"], "name": Path(str(row["path"])).name, "license": row["license"],
            "mood": row.get("mood"), "usage_count": row.get("usage_count") or 0,
            "thumb": row["kind"] in ("source", "template", "image")}


def _library(ws, *, kind: str | None, page_no: int) -> dict:
    with ws.catalog.read() as con:
        rows = catalogs.list_media(con, kind=kind or None)
    rows.reverse()
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page_no = min(max(1, page_no), pages)
    return {"media": [_media_card(r) for r in rows[(page_no - 1) * PAGE_SIZE: page_no * PAGE_SIZE]],
            "page_no": page_no, "pages": pages, "kinds": catalogs.MEDIA_KINDS, "licences": catalogs.LICENSES,
            "filters": {"kind": kind}}


@router.get("/library", response_class=HTMLResponse)
def library(request: Request, kind: str | None = None, page_no: int = 1) -> Response:
    return page(request, "library.html", lambda: _library(_ws(request), kind=kind, page_no=page_no),
                active="library")


@router.post("/library/{media_id:int}", response_class=HTMLResponse)
def media_update(request: Request, media_id: int, csrf: str = Form(""), license: str = Form(""),
                 mood: str = Form("")) -> Response:
    """Licence and mood from the card's form; htmx swaps the card rendered anew."""
    from farm.library import update_media

    _check_csrf(request, csrf)
    redirect = login_redirect(request)
    if redirect is not None:
        return redirect
    changes = {"license": license or None, "mood": mood.strip() or None}
    try:
        row = update_media(_ws(request), media_id, changes)
    except BusyError:
        return render(request, "busy.html", status_code=503)
    except FarmError as err:
        return render(request, "message.html", status_code=400, title="error", message=str(err).splitlines()[0])
    if not request.headers.get("HX-Request"):
        return RedirectResponse("/library", status_code=303)
    return render(request, "_media_card.html", m=_media_card(row), licences=catalogs.LICENSES, saved=True)


def _save_upload(ws, upload: UploadFile, cap_bytes: int) -> Path:
    """The upload in a file of the workspace's own (its name is never the client's), or InputError past the cap."""
    from farm.errors import InputError

    folder = ws.state_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(upload.filename or "").suffix.lower()[:8]
    suffix = suffix if suffix[1:].isalnum() else ""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    size = 0
    with open(fd, "wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > cap_bytes:
                out.close()
                Path(name).unlink(missing_ok=True)
                raise InputError(f"{upload.filename}: larger than the import cap ({cap_bytes} bytes)")
            out.write(chunk)
    return Path(name)


@router.post("/library/import", response_class=HTMLResponse)
def media_import(request: Request, file: UploadFile = File(...), csrf: str = Form(""), kind: str = Form(""),
                 license: str = Form(""), mood: str = Form("")) -> Response:
    from farm.library import ImportOptions, import_file

    _check_csrf(request, csrf)
    ws = _ws(request)
    opts = ImportOptions(kind=kind or None, license=license or None, mood=mood.strip() or None)
    done: dict = {}

    def do() -> None:
        path = _save_upload(ws, file, int(ws.settings.media.max_download_bytes))
        try:
            done["outcome"], done["row"] = import_file(ws, path, opts, origin=file.filename, move=True,
                                                       name=Path(file.filename or path.name).name)
        finally:
            path.unlink(missing_ok=True)

    got = _action(request, do, "/library")
    if not done:
        return got
    key = "import.duplicate" if done["outcome"] == "duplicate" else "import.done"
    return render(request, "message.html", title=key, message=f"media {done['row']['id']}", back="/library")


# -- products --------------------------------------------------------------------------------------
def _products(ws) -> dict:
    with ws.catalog.read() as con:
        products = catalogs.list_products(con)
        promos = [r for r in catalogs.list_jobs(con, with_spec=False) if r["kind"] == "promo"]
        owners = {r["id"]: (catalogs.get_job(con, r["id"]) or {}).get("product_id") for r in promos[-500:]}
    by_product: dict[int, list[dict]] = {}
    for r in promos:
        if owners.get(r["id"]) is not None:
            by_product.setdefault(int(owners[r["id"]]), []).append(r)
    for p in products:
        p["promos"] = by_product.get(int(p["id"]), [])[-10:]
        p["image_ids"] = [int(i["id"]) for i in p.get("images") or []][:4]
    return {"products": products}


@router.get("/products", response_class=HTMLResponse)
def products(request: Request) -> Response:
    return page(request, "products.html", lambda: _products(_ws(request)), active="products")


# -- accounts --------------------------------------------------------------------------------------
def _accounts(ws, connected: int | None = None) -> dict:
    from farm.publish import list_account_rows

    rows = list_account_rows(ws)
    done = next((r for r in rows if connected is not None and int(r["id"]) == connected), None)
    with ws.catalog.read() as con:
        health = {int(h["account_id"]): h["health"] for h in catalogs.latest_health(con)}
    keep = ("id", "platform", "name", "state", "token", "daily_cap", "cap_today", "warmup", "paused_until",
            "pause_reason", "token_expires_at", "last_posted_at", "error_count", "warnings")
    accounts = [{k: r.get(k) for k in keep} | {"health": health.get(int(r["id"]))} for r in rows]
    return {"accounts": accounts, "platforms": _platform_names(),
            "connected": f"{done['platform']}:{done['name']}" if done else None}


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, connected: int | None = None) -> Response:
    return page(request, "accounts.html", lambda: _accounts(_ws(request), connected), active="accounts")


ACCOUNT_ACTIONS = ("enable", "disable", "pause", "resume")


@router.post("/accounts/{account_id}/{action}")
def account_action(request: Request, account_id: int, action: str, csrf: str = Form("")) -> Response:
    from farm.publish import pause_account, resume_account, set_active

    _check_csrf(request, csrf)
    if action not in ACCOUNT_ACTIONS:
        raise HTTPException(status_code=404, detail=f"no account action {action!r}; known: {', '.join(ACCOUNT_ACTIONS)}")
    ws, ref = _ws(request), str(account_id)
    do = {"enable": lambda: set_active(ws, ref, True), "disable": lambda: set_active(ws, ref, False),
          "pause": lambda: pause_account(ws, ref, days=1.0, reason="paused from the web page"),
          "resume": lambda: resume_account(ws, ref)}[action]
    return _action(request, do, "/accounts")


# -- calendar --------------------------------------------------------------------------------------
def _calendar(ws, *, start: date) -> dict:
    """Posts per account per day from ``start`` for 14 days: planned (publish_after) and published."""
    days = [start + timedelta(days=i) for i in range(14)]
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time())
    with ws.catalog.read() as con:
        names = {int(a["id"]): f"{a['platform']}:{a['username']}" for a in catalogs.list_accounts(con)}
        planned_ids = [r["id"] for r in catalogs.list_jobs(con) if r["state"] in ("pending", "rendering", "ready")]
        planned = [catalogs.get_job(con, i) for i in planned_ids[-2000:]]
        uploads = catalogs.list_uploads(con, states=("published",))
    cells: dict[tuple[str, date], list[dict]] = {}
    for job in planned:
        at = job.get("publish_after") if job else None
        if at is None or not (days[0] <= at.date() <= days[-1]) or at >= end:
            continue
        who = names.get(int(job["account_id"])) if job.get("account_id") is not None else None
        cells.setdefault((who or "", at.date()), []).append(
            {"job_id": job["id"], "at": at, "what": "planned", "platform": job.get("platform")})
    for up in uploads:
        at = up.get("updated_at") or up.get("created_at")
        if at is None or not (days[0] <= at.date() <= days[-1]):
            continue
        who = names.get(int(up["account_id"]), str(up["account_id"]))
        cells.setdefault((who, at.date()), []).append(
            {"job_id": up["job_id"], "at": at, "what": "published", "platform": up["platform"]})
    rows = sorted({who for who, _ in cells})
    return {"days": days, "rows": rows, "cells": cells, "start": start,
            "prev": (start - timedelta(days=7)).isoformat(), "next": (start + timedelta(days=7)).isoformat()}


@router.get("/calendar", response_class=HTMLResponse)
def calendar(request: Request, start: str | None = None) -> Response:
    try:
        first = date.fromisoformat(start) if start else catalogs.utcnow().date() - timedelta(days=7)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"start: not a date (YYYY-MM-DD): {start!r}") from None
    return page(request, "calendar.html", lambda: _calendar(_ws(request), start=first), active="calendar")


# -- analytics -------------------------------------------------------------------------------------
def _bars(rows: list[dict], *, label: str, value: str, mean: bool = False) -> list[dict]:
    """Rows summed (or averaged) by ``label`` with each bar's width in percent of the largest."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in rows:
        key = str(r[label])
        sums[key] = sums.get(key, 0.0) + float(r.get(value) or 0)
        counts[key] = counts.get(key, 0) + 1
    if mean:
        sums = {k: v / counts[k] for k, v in sums.items()}
    top = max(sums.values(), default=0.0) or 1.0
    return [{"label": k, "value": round(v, 2), "percent": round(100 * v / top, 1)} for k, v in sorted(sums.items())]


def _analytics(ws) -> dict:
    from farm.report import collect_report_data

    data = collect_report_data(ws, days=14)
    engagement = [{"day": r["day"], "rate": round(100 * float(r.get("engagement_rate") or 0), 2)} for r in data.views]
    rendered = [r for r in data.rendered if r["outcome"] == "rendered"]
    return {"summary": data.summary, "charts": [
        ("views_chart", _bars(data.views, label="day", value="views")),
        ("engagement_chart", _bars(engagement, label="day", value="rate", mean=True)),
        ("revenue_chart", _bars(data.revenue_days, label="day", value="commission_validated")),
        ("rendered_chart", _bars(rendered, label="day", value="videos")),
    ]}


@router.get("/analytics", response_class=HTMLResponse)
def analytics(request: Request) -> Response:
    return page(request, "analytics.html", lambda: _analytics(_ws(request)), active="analytics")
