"""The web app: `create_app` builds the FastAPI app over a workspace and maps every error to one line."""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from farm.errors import (
    AuthError,
    BusyError,
    FarmError,
    InputError,
    PolicyError,
    QuotaError,
    RetryableError,
    RightsError,
    ScopeError,
    UnavailableError,
)
from farm.records import dumps_document
from farm.web import _auth
from farm.web._state import Lang, WebState, web_state

BUSY = "busy: another farm process holds the workspace"


class NotFound(InputError):
    """An id the catalog does not hold (or a file it names that is gone): 404."""


class FarmJSONResponse(JSONResponse):
    """JSON encoded as ``farm ... --json`` prints it (dates as ISO 8601, keys in their order)."""

    def render(self, content) -> bytes:
        return dumps_document(content).encode("utf-8")


def one_line(text: object) -> str:
    return " ".join(str(text).split())[:500]


def _status_of(err: FarmError) -> int:
    """The HTTP status for a farm error, by class."""
    for cls, status in ((NotFound, 404), (_auth.NotAuthenticated, 401), (_auth.CsrfError, 403), (_auth.CrossSiteError, 403),
                        (_auth.RateLimited, 429), (BusyError, 503), (RightsError, 400), (PolicyError, 400),
                        (InputError, 400), (ScopeError, 409), (AuthError, 409), (QuotaError, 429),
                        (UnavailableError, 503), (RetryableError, 503)):
        if isinstance(err, cls):
            return status
    return 500


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return FarmJSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(FarmError)
    async def farm_error(request: Request, err: FarmError):
        status = _status_of(err)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        retry = getattr(err, "retry_after_s", None) or (BUSY_RETRY_S if isinstance(err, BusyError) else None)
        if status in (429, 503) and retry:
            headers["Retry-After"] = str(int(retry))
        return _error(status, BUSY if isinstance(err, BusyError) else str(err), headers)

    @app.exception_handler(_auth.LoginRequired)
    async def login_required(request: Request, err: Exception):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return _error(400, f"{where}: {first.get('msg', 'invalid input')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        return _error(err.status_code, err.detail if isinstance(err.detail, str) else "error", err.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, err: Exception):
        return _error(500, f"internal error: {type(err).__name__}")


def _core_router() -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", tags=["server"])
    def healthz(request: Request):
        ws = web_state(request).ws
        return {"ok": True, "schema": ws.catalog.version()}

    @router.post("/login", tags=["server"], include_in_schema=False)
    def login(request: Request, token: str = Form("")):
        _auth.check_login_rate(request)
        state = web_state(request)
        if not _auth.token_ok(state, token):
            raise _auth.NotAuthenticated("wrong token")
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(_auth.COOKIE, _auth.make_session(state), max_age=_auth.SESSION_TTL_S, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
        return resp

    @router.post("/logout", tags=["server"], include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")):
        if _auth.session_of(request) is not None:
            _auth.check_csrf(request, csrf or request.headers.get(_auth.CSRF_HEADER))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(_auth.COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    return router


def _login_fallback() -> APIRouter:
    """A bare login form, used only when the pages do not bring their own."""
    router = APIRouter()

    @router.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return HTMLResponse('<!doctype html><title>farm: log in</title><form method="post" action="/login">'
                            '<input type="password" name="token" autocomplete="current-password" autofocus>'
                            '<button>Log in</button></form>')

    return router


WEB_CATALOG_WAIT_S = 2.0
BUSY_RETRY_S = 5


def create_app(ws, *, lang: Lang = "en", require_token: bool = False, token_sha256: str | None = None) -> FastAPI:
    """The FastAPI app over ``ws``: the JSON API under /api/v1, the pages where present, /healthz, /docs.

    ``require_token``: requests must carry the token whose sha256 is ``token_sha256`` (Bearer for
    the API, the login cookie for pages).
    """
    from farm.web._api import router as api_router

    if require_token and not token_sha256:
        raise InputError("a server that requires a token needs its hash")
    app = FastAPI(title="reel farm", version="1", docs_url="/docs", redoc_url=None,
                  default_response_class=FarmJSONResponse)
    # a request waits for another process's catalog only briefly, then says "busy" (a phone should not hang)
    ws.catalog.wait_s = min(ws.catalog.wait_s, WEB_CATALOG_WAIT_S)
    app.state.web = WebState(ws=ws, lang=lang, require_token=require_token, token_sha256=token_sha256)
    _install_handlers(app)
    app.include_router(_core_router())
    app.include_router(api_router)
    for name in ("farm.web._pages", "farm.web._events", "farm.web._publishing"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        app.include_router(module.router)
    app.include_router(_login_fallback())
    return app
