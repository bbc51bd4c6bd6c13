"""Facebook Login for a Page: the code exchange, the long-lived user token, the Page's own token, and its check.

Facebook Login gives a short-lived user token (an hour or two). The farm exchanges it for a
long-lived one (``grant_type=fb_exchange_token``, about 60 days), and takes the Page's token
from ``GET /me/accounts``: a Page token made from a long-lived user token has no expiry,
which is what a farm that posts every night needs. Every stored Page token (connected, or
given with ``farm accounts add facebook --token-file``) is checked with ``GET /debug_token``:
a Page token, valid, for the Page named, long-lived, with the publishing permissions.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from farm.errors import AuthError, InputError
from farm.platforms._base import Secret, TokenSet, json_body, scrub, utc_now, with_retries
from farm.platforms._tokens import Connection, tokens_from

PUBLISH_PERMISSIONS = ("pages_manage_posts", "pages_read_engagement")
"""What publishing a reel needs of a Page token (Reels Publishing API, "Before You Start")."""
SHORT_LIVED = timedelta(hours=24)
"""A Page token expiring sooner than this is a short-lived one (made from a short-lived user token)."""
HOW_TO_LONG_LIVED = ("get a long-lived one: run `farm accounts connect facebook`, or exchange the user token for a "
                     "long-lived user token (GET /oauth/access_token?grant_type=fb_exchange_token) and take the "
                     "Page's token from GET /me/accounts with it; that Page token does not expire")


class FacebookLogin:
    """The Facebook client's part of connecting an account (mixed into ``FacebookClient``)."""

    platform: str
    settings: object

    @property
    def graph(self) -> str:
        """The Graph API base, its ``{version}`` filled in (``facebook_graph_version``)."""
        return str(self.settings.facebook_graph_base).replace("{version}", self.settings.facebook_graph_version)

    @property
    def upload_base(self) -> str:
        return str(self.settings.facebook_upload_base).replace("{version}", self.settings.facebook_graph_version)

    def token_url(self) -> str:
        return f"{self.graph}/oauth/access_token"

    def exchange_code(self, code: str, *, verifier: str, redirect_uri: str) -> TokenSet:
        """The user token for a Facebook Login code: ``GET /oauth/access_token`` as Meta documents it."""
        app_id, secret = self.app_credentials("code exchange")
        params = {"client_id": app_id, "redirect_uri": redirect_uri, "client_secret": secret, "code": code,
                  "code_verifier": verifier}
        body = self.token_call("GET", self.token_url(), what="code exchange", params=params,
                               secrets=(secret, code, verifier))
        return tokens_from(body)

    def connect(self, tokens: TokenSet, *, page_id: str | None = None) -> Connection:
        """A long-lived user token, then the Page's token (the one ``page_id`` names, or the only one),
        checked with debug_token. Several Pages and no ``page_id``: InputError listing them."""
        app_id, secret = self.app_credentials("long-lived token")
        params = {"grant_type": "fb_exchange_token", "client_id": app_id, "client_secret": secret,
                  "fb_exchange_token": tokens.access_token.reveal()}
        user = self.token_call("GET", self.token_url(), what="long-lived token", params=params,
                               secrets=(secret, tokens.access_token))
        user_token = Secret(str(user["access_token"]))
        page = self._choose_page(self._pages(user_token), page_id)
        checked, notes = self.check_page_token(Secret(str(page["access_token"])), page_id=str(page["id"]))
        return Connection(tokens=checked, page_id=str(page["id"]), name=str(page.get("name") or page["id"]),
                          notes=notes)

    def _pages(self, user_token: Secret) -> list[dict]:
        what = "list Pages"

        def call() -> dict:
            resp = self._request("GET", f"{self.graph}/me/accounts", what=what, token=user_token,
                                 params={"fields": "id,name,access_token,tasks,category", "limit": "100"})
            body = json_body(resp)
            if not resp.is_success or "error" in body:
                raise self._error(resp, what, user_token, body)
            return body

        body = with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"facebook {what}")
        return [p for p in body.get("data") or [] if isinstance(p, dict) and p.get("id") and p.get("access_token")]

    @staticmethod
    def _choose_page(pages: list[dict], page_id: str | None) -> dict:
        listed = ", ".join(f"{p['id']} ({p.get('name') or '?'})" for p in pages)
        if not pages:
            raise InputError("facebook: the user manages no Page the app may publish on (grant pages_show_list; a "
                             "Page owned by a Business Portfolio also needs business_management)")
        if page_id is not None:
            for p in pages:
                if str(p["id"]) == str(page_id):
                    return p
            raise InputError(f"facebook: Page {page_id} is not among this user's Pages: {listed}")
        if len(pages) > 1:
            raise InputError(f"facebook: the user manages several Pages; name one with --page-id: {listed}")
        return pages[0]

    def check_token(self, tokens: TokenSet, *, page_id: str | None = None) -> tuple[TokenSet, list[str]]:
        """A Page token given by hand, checked as a connected one is (:meth:`check_page_token`)."""
        return self.check_page_token(tokens.access_token, page_id=page_id)

    def check_page_token(self, token: Secret, *, page_id: str | None) -> tuple[TokenSet, list[str]]:
        """``GET /debug_token`` on a Page token: its type, validity, Page, expiry and permissions.

        Returns:
            The token as a :class:`TokenSet` (``expires_at`` None: it does not expire; ``scope`` the
            permissions granted) and notes for the user (a missing statistics permission).

        Raises:
            InputError: not a Page token, another Page's, short-lived, or without publishing permissions.
            AuthError: the token is not valid.
        """
        data = self._debug_token(token)
        if not data.get("is_valid", False):
            why = (data.get("error") or {}).get("message") if isinstance(data.get("error"), dict) else None
            raise AuthError(scrub(f"facebook: the token is not valid ({why or 'debug_token says so'}); reconnect the "
                                  "account", token))
        kind = str(data.get("type") or "").upper()
        if kind != "PAGE":
            raise InputError(f"facebook: this is a {kind or 'non-Page'} token, not a Page token; reels are published "
                             f"with the Page's own token: {HOW_TO_LONG_LIVED}")
        owner = data.get("profile_id")
        if page_id is not None and owner is not None and str(owner) != str(page_id):
            raise InputError(f"facebook: the token belongs to Page {owner}, not to Page {page_id}")
        expires_at = _epoch(data.get("expires_at"))
        if expires_at is not None and expires_at - utc_now() < SHORT_LIVED:
            raise InputError(f"facebook: a short-lived Page token (it expires {expires_at:%Y-%m-%d %H:%M} UTC); "
                             + HOW_TO_LONG_LIVED)
        scopes = [str(s) for s in data.get("scopes") or []]
        missing = [p for p in PUBLISH_PERMISSIONS if scopes and p not in scopes]
        if missing:
            raise InputError(f"facebook: the Page token lacks {', '.join(missing)}, which publishing reels needs; "
                             "reconnect with `farm accounts connect facebook` and grant them")
        notes = [] if not scopes or "read_insights" in scopes else [
            "reconnect to allow statistics: the Page token lacks read_insights"]
        return TokenSet(access_token=token, expires_at=expires_at, scope=",".join(scopes) or None), notes

    def _debug_token(self, token: Secret) -> dict:
        """debug_token's ``data``, asked with the app's token (``app_id|app_secret``) where the app is
        configured, else with the token itself."""
        app_id, secret = getattr(self.settings, "facebook_app_id", ""), getattr(self.settings, "facebook_app_secret", "")
        asker = Secret(f"{app_id}|{secret}") if app_id and secret else token
        what = "debug_token"

        def call() -> dict:
            resp = self._request("GET", f"{self.graph}/debug_token", what=what, token=asker,
                                 params={"input_token": token.reveal()})
            body = json_body(resp)
            if not resp.is_success or "error" in body:
                raise self._error(resp, what, asker, body, secrets=(token, secret, app_id))
            return body

        body = with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"facebook {what}")
        data = body.get("data")
        return data if isinstance(data, dict) else {}


def _epoch(value) -> datetime | None:
    """A Graph API time (seconds since the epoch) as naive UTC; 0 or nothing: never."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(float(value), timezone.utc).replace(tzinfo=None)
