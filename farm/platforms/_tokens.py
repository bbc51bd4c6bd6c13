"""The OAuth token endpoint as every platform client speaks it: exchanging an authorization code, refreshing.

Google and TikTok answer ``{"access_token", "expires_in", "refresh_token", ...}`` or an error
``{"error": "invalid_grant", "error_description": ...}`` (TikTok may say so with HTTP 200, so
the body decides, not the status); the Graph API answers its own error shape. A refresh is
retried within the bound on 429, 5xx and dropped connections; one whose answer was lost is
tried once more with the same refresh token (a rotating platform may have spent it on the
lost answer), and a refusal after that says so. A code exchange is never retried: a code
works once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from farm.errors import AuthError, FarmError, RetryableError
from farm.platforms._base import Secret, TokenSet, backoff_s, json_body, retry_after, scrub, utc_now

if TYPE_CHECKING:
    import httpx

WHOAMI_TIMEOUT_S = 5.0
"""The account's name is a courtesy after connecting: asked once, briefly, never holding the command up."""
LOST_REFRESH = ("the answer to an earlier refresh was lost, and the platform refused the same refresh token "
                "again (it may have spent it on the lost answer)")


@dataclass(frozen=True)
class Connection:
    """What connecting an account settled: the tokens to store, the Page (Facebook), the account's
    name on the platform and notes for the user (what it can do, what it cannot)."""

    tokens: TokenSet
    page_id: str | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)


def tokens_from(body: dict, *, previous: TokenSet | None = None) -> TokenSet:
    """A :class:`TokenSet` from a token endpoint's answer; what the answer leaves out is kept from
    ``previous`` (Google keeps its refresh token; TikTok rotates it). Lifetimes come from the
    answer only: an access token without ``expires_in`` has an unknown expiry (refreshed before
    each use), never an assumed one."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise RetryableError("the token endpoint's answer held no access token")
    now = utc_now()
    refresh = body.get("refresh_token")
    expires_in = body.get("expires_in")
    refresh_in = body.get("refresh_expires_in", body.get("refresh_token_expires_in"))
    scope = body.get("scope")
    return TokenSet(
        access_token=Secret(access),
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else (previous.refresh_token if previous
                                                                                    else None),
        expires_at=now + timedelta(seconds=float(expires_in)) if _seconds(expires_in) else None,
        refresh_expires_at=(now + timedelta(seconds=float(refresh_in)) if _seconds(refresh_in)
                            else previous.refresh_expires_at if previous and not isinstance(refresh, str) else None),
        scope=scope if isinstance(scope, str) and scope else (previous.scope if previous else None))


def _seconds(value) -> bool:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) > 0
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


class TokenEndpoint:
    """Code exchange and refresh for a platform client (mixed into ``PlatformClient``)."""

    platform: str
    settings: object
    sleep: Callable[[float], None]

    def _request(self, method: str, url: str, *, what: str, token: Secret | None = None,
                 **kwargs) -> httpx.Response:  # pragma: no cover - PlatformClient's
        raise NotImplementedError

    @property
    def descriptor(self):
        from farm.platforms._registry import platform

        return platform(self.platform)

    def token_url(self) -> str:
        """The platform's OAuth token endpoint."""
        raise NotImplementedError

    def app_credentials(self, what: str) -> tuple[str, str]:
        """The app's client id and secret from settings, or an AuthError naming what to set."""
        oauth = self.descriptor.oauth
        if oauth is None:
            raise AuthError(f"{self.platform} {what}: the platform has no OAuth app")
        cid, secret = getattr(self.settings, oauth.client_id, ""), getattr(self.settings, oauth.client_secret, "")
        if not cid or not secret:
            missing = " and ".join(f"FARM_{name.upper()}" for name, value in ((oauth.client_id, cid),
                                                                             (oauth.client_secret, secret)) if not value)
            raise AuthError(f"{self.platform} {what}: the app is not configured; set {missing} (or [platforms] in "
                            "farm.toml)")
        return cid, secret

    # -- calls ---------------------------------------------------------------------------
    def exchange_code(self, code: str, *, verifier: str, redirect_uri: str) -> TokenSet:
        """The tokens for an authorization code (PKCE ``verifier``, the ``redirect_uri`` used).
        Never retried: a code works once. Raises AuthError when the platform refuses it."""
        oauth = self.descriptor.oauth
        cid, secret = self.app_credentials("code exchange")
        form = {oauth.client_id_param: cid, "client_secret": secret, "code": code,
                "grant_type": "authorization_code", "redirect_uri": redirect_uri, "code_verifier": verifier}
        body = self.token_call("POST", self.token_url(), what="code exchange", data=form,
                               secrets=(secret, code, verifier))
        return tokens_from(body)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """New tokens from the refresh token (a rotating platform's new refresh token must be stored)."""
        rules = self.descriptor.tokens
        if rules is None or not rules.refreshable:
            noun = rules.noun if rules else "token"
            raise AuthError(f"{self.platform} token refresh: {noun}s cannot be refreshed; reconnect the account")
        oauth = self.descriptor.oauth
        cid, secret = self.app_credentials("token refresh")
        if tokens.refresh_token is None or not tokens.refresh_token:
            raise AuthError(f"{self.platform} token refresh: the account has no refresh token; reconnect the account")
        form = {oauth.client_id_param: cid, "client_secret": secret, "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.reveal()}
        secrets = (secret, tokens.refresh_token, tokens.access_token)
        body = self.retry_refresh(lambda: self.token_call("POST", self.token_url(), what="token refresh", data=form,
                                                          secrets=secrets))
        return tokens_from(body, previous=tokens)

    def token_call(self, method: str, url: str, *, what: str, secrets: tuple, **kwargs) -> dict:
        """One call to a token endpoint: its answer with an access token, or the error it means."""
        headers = {"Accept": "application/json", **(kwargs.pop("headers", None) or {})}
        resp = self._request(method, url, what=what, headers=headers, **kwargs)
        body = json_body(resp)
        if resp.is_success and isinstance(body.get("access_token"), str) and body["access_token"]:
            return body
        raise self.token_error(resp, body, what=what, secrets=secrets)

    def token_error(self, resp: httpx.Response, body: dict, *, what: str, secrets: tuple) -> FarmError:
        status = resp.status_code
        err = body.get("error")
        if isinstance(err, dict):  # Google API errors, the Graph API, TikTok's API shape
            name = str(err.get("status") or err.get("code") or err.get("type") or "")
            detail = str(err.get("message") or err.get("error_description") or "")
        else:  # OAuth 2.0: {"error": "invalid_grant", "error_description": "..."}
            name, detail = str(err or ""), str(body.get("error_description") or "")
        text = scrub(f"{self.platform} {what}: HTTP {status}" + (f" {name}" if name else "")
                     + (f": {detail}" if detail else ""), *secrets)
        if status == 429 or status >= 500 or name in ("server_error", "temporarily_unavailable"):
            return RetryableError(text, retry_after_s=retry_after(resp))
        if name == "invalid_grant":
            return AuthError(text + "; the grant is expired, revoked or already used: reconnect the account")
        if name in ("invalid_client", "unauthorized_client"):
            oauth = self.descriptor.oauth
            names = f"FARM_{oauth.client_id.upper()} and FARM_{oauth.client_secret.upper()}" if oauth else "the app"
            return AuthError(text + f"; check {names}")
        if resp.is_success and not name:
            return RetryableError(text + " (the answer held no access token)")
        return AuthError(text + "; reconnect the account if this persists")

    def retry_refresh(self, call: Callable[[], dict]) -> dict:
        """``call`` retried on 429, 5xx and dropped connections within ``settings.max_retries``; after
        a lost answer, tried once more with the same refresh token, and a refusal then says why."""
        attempt, lost = 0, False
        while True:
            try:
                return call()
            except AuthError as err:
                if lost:
                    raise AuthError(f"{err} ({LOST_REFRESH})") from None
                raise
            except RetryableError as err:
                if err.unanswered:
                    if lost:
                        raise  # lost twice: the next run asks again; nothing says the token is dead
                    lost = True
                    continue
                if attempt >= int(getattr(self.settings, "max_retries", 0)):
                    raise
                self.sleep(min(err.retry_after_s if err.retry_after_s is not None else backoff_s(attempt), 60.0))
                attempt += 1

    def connect(self, tokens: TokenSet, *, page_id: str | None = None) -> Connection:
        """What a new connection is: the tokens to store and the account's name (best effort)."""
        name = None
        try:
            name = self.whoami(tokens.access_token)
        except FarmError:
            pass
        return Connection(tokens=tokens, page_id=page_id, name=name)

    def check_token(self, tokens: TokenSet, *, page_id: str | None = None) -> tuple[TokenSet, list[str]]:
        """Check tokens given by hand before they are stored (``farm accounts add``): the tokens as
        they will be stored and notes for the user. No call here; Facebook asks debug_token."""
        return tokens, []

    def whoami(self, token: Secret) -> str | None:
        """The account's name on the platform (a channel's title, a creator's handle), or None."""
        return None
