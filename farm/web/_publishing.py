"""Publishing from the browser: connect an account through OAuth with the browser coming back to this
server, and try a failed upload again.

Connecting runs the two steps `farm accounts connect` runs (``farm.publish.begin_connect`` and
``finish_connect``) around this server's own callback instead of a loopback listener: the redirect
address is the server's own base URL (as the browser reached it) + ``/oauth/callback`` (TikTok's
desktop apps register ``/callback/``: that path for TikTok; Facebook's ``localhost`` for a server
reached on 127.0.0.1). The attempt (its state, the PKCE verifier, the options) is kept in the
server's memory for :data:`PENDING_TTL_S`; only the state goes to the browser, in the authorization
address. The callback needs no login: the state it carries is the proof that a logged-in user began
the attempt, and it is used once.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

import catalogs
from farm.errors import BusyError, FarmError, InputError
from farm.web._app import FarmJSONResponse, NotFound, one_line
from farm.web._auth import check_csrf, require_api_auth, require_page_auth
from farm.web._state import web_state

CALLBACK_PATH = "/oauth/callback"
PENDING_TTL_S = 600.0  # Google's and TikTok's codes live 10 minutes
MAX_PENDING = 64
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


async def _authenticated(request: Request) -> None:
    await require_api_auth(request)


api = APIRouter(prefix="/api/v1", dependencies=[Depends(_authenticated)], tags=["api"])
router = APIRouter(include_in_schema=False)


class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(max_length=40)
    name: str = Field(min_length=1, max_length=100)
    page_id: str | None = Field(default=None, max_length=64)
    daily_cap: int | None = Field(default=None, ge=0, le=1000)
    min_gap_min: int | None = Field(default=None, ge=0, le=10_000)
    window: str | None = Field(default=None, max_length=40)
    privacy: str | None = Field(default=None, max_length=40)
    warmup_days: int | None = Field(default=None, ge=0, le=365)
    allow: dict[str, bool] = Field(default_factory=dict)


# -- the OAuth attempt --------------------------------------------------------------------------------
def callback_uri(request: Request, platform_name: str) -> str:
    """The redirect address for ``platform_name``: this server's base URL as the browser reached it
    (scheme://host:port) + :data:`CALLBACK_PATH` (or the platform's own registered loopback path)."""
    from farm.platforms import platform

    oauth = platform(platform_name).oauth
    base = urlsplit(str(request.base_url))
    path = base.path.rstrip("/") + (CALLBACK_PATH if oauth is None or oauth.redirect_path == "/" else oauth.redirect_path)
    netloc = base.netloc
    if oauth is not None and oauth.redirect_host == "localhost" and base.hostname in _LOOPBACK:
        netloc = "localhost" + (f":{base.port}" if base.port else "")  # Facebook registers localhost
    return urlunsplit((base.scheme, netloc, path, "", ""))


def _pending(request: Request) -> tuple[threading.Lock, dict]:
    state = web_state(request)
    return state.extra.setdefault("oauth_lock", threading.Lock()), state.extra.setdefault("oauth_pending", {})


def start_connect(request: Request, body: ConnectIn) -> dict:
    """``begin_connect`` with this server's callback; the attempt kept by its state. Returns the
    authorization address, the redirect address and how long the attempt is kept."""
    from farm.platforms import platform_names
    from farm.publish import ConnectOptions, begin_connect

    ws = web_state(request).ws
    if body.platform not in platform_names():
        raise InputError(f"Invalid platform ({body.platform!r}). Supported: {', '.join(platform_names())}.")
    warmup = ws.settings.planner.warmup_days if body.warmup_days is None else body.warmup_days
    options = ConnectOptions(name=body.name, page_id=body.page_id or None, privacy=body.privacy,
                             daily_cap=body.daily_cap, min_gap_min=body.min_gap_min, window=body.window,
                             allow=dict(body.allow), warmup_days=int(warmup), browser=False)
    redirect_uri = callback_uri(request, body.platform)
    url, pending = begin_connect(ws, body.platform, options, redirect_uri=redirect_uri, expires_in_s=PENDING_TTL_S)
    lock, kept = _pending(request)
    with lock:
        now = time.time()
        for key in [k for k, p in kept.items() if p.expires_at < now]:
            del kept[key]
        while len(kept) >= MAX_PENDING:  # the oldest attempt gives way
            del kept[min(kept, key=lambda k: kept[k].expires_at)]
        kept[pending.state] = pending
    return {"authorize_url": url, "redirect_uri": redirect_uri, "expires_in_s": PENDING_TTL_S}


@api.post("/accounts/connect")
def connect_account(request: Request, body: ConnectIn):
    """Begin connecting (or reconnecting) an account: send the browser to ``authorize_url``; the
    platform sends it back to this server's ``/oauth/callback``, which stores the account."""
    return FarmJSONResponse(start_connect(request, body))


@router.post("/accounts/connect")
def connect_form(request: Request, csrf: str = Form(""), platform: str = Form(""), name: str = Form(""),
                 page_id: str = Form(""), daily_cap: str = Form("")) -> Response:
    """The Accounts page's form: the browser is sent to the platform's sign-in page (303; htmx: HX-Redirect)."""
    from farm.web._pages import render

    check_csrf(request, csrf or request.headers.get("X-CSRF-Token"))
    require_page_auth(request)
    try:
        cap = int(daily_cap) if daily_cap.strip() else None
        body = ConnectIn(platform=platform, name=name.strip(), page_id=page_id.strip() or None, daily_cap=cap)
        url = start_connect(request, body)["authorize_url"]
    except BusyError:
        return render(request, "busy.html", status_code=503)
    except (FarmError, ValueError) as err:
        return render(request, "message.html", status_code=400, title="error", message=_first_line(err),
                      back="/accounts")
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _first_line(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        return one_line(f"{'.'.join(map(str, first.get('loc', ()))) or 'form'}: {first.get('msg')}")
    return one_line(str(err).splitlines()[0] if str(err) else type(err).__name__)


@router.get(CALLBACK_PATH)
@router.get("/callback/")  # TikTok's desktop apps register this path
def oauth_callback(request: Request) -> Response:
    """The platform's answer: the attempt its state names finishes (the account stored, then /accounts),
    or a 400 page with one line (a denial, an unknown or expired state, a refused exchange; nothing stored)."""
    from farm.publish import finish_connect
    from farm.web._pages import render

    query = dict(request.query_params)
    lock, kept = _pending(request)
    with lock:
        pending = kept.pop(str(query.get("state") or ""), None)
    if pending is None:
        return render(request, "message.html", status_code=400, title="error", back="/accounts",
                      message="the answer's state matches no sign-in under way here (a stale or forged redirect); "
                              "nothing was stored")
    try:
        acc = finish_connect(web_state(request).ws, pending, query)
    except BusyError:
        return render(request, "busy.html", status_code=503)
    except FarmError as err:
        return render(request, "message.html", status_code=400, title="error", message=_first_line(err),
                      back="/accounts")
    return RedirectResponse(f"/accounts?connected={int(acc['id'])}", status_code=303)


# -- a failed upload tried again ----------------------------------------------------------------------
def _retry_upload(request: Request, job_id: int, platform: str) -> dict:
    from farm.publish import UploadNotFailed, retry_upload

    ws = web_state(request).ws
    with ws.catalog.read() as con:
        found = catalogs.get_upload(con, job_id, platform)
    if found is None:
        raise NotFound(f"job {job_id}: no upload to {platform}")
    try:
        return retry_upload(ws, job_id, platform)
    except UploadNotFailed as err:
        raise HTTPException(status_code=409, detail=one_line(err)) from None


@api.post("/uploads/{job_id}/{platform}/retry")
def retry_upload_api(request: Request, job_id: int, platform: str):
    """Forget a failed upload so the next publish pass tries it again: 404 when there is none, 409 when
    it has not failed."""
    return FarmJSONResponse(_retry_upload(request, job_id, platform))


@router.post("/jobs/{job_id}/uploads/{platform}/retry")
def retry_upload_form(request: Request, job_id: int, platform: str, csrf: str = Form("")) -> Response:
    """The job page's button for a failed upload."""
    from farm.web._pages import _action

    check_csrf(request, csrf or request.headers.get("X-CSRF-Token"))

    def do() -> None:
        try:
            _retry_upload(request, job_id, platform)
        except HTTPException as err:
            raise InputError(err.detail) from None

    return _action(request, do, f"/jobs/{job_id}")


router.include_router(api)
