"""One upload step run where the bytes are (an Uploader actor, or this process with --local).

A step is a plain dict in and a plain dict out, so it crosses to a Ray actor and back as
is. The token travels encrypted and is decrypted here, with the workspace's keyring; a
platform error comes back as its class name and fields, re-raised by the driver.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime
from pathlib import Path

from farm import errors as farm_errors
from farm.errors import FarmError
from farm.platforms import PlatformClient, RemoteSession, Secret, UploadRequest, client_for, make_http_client
from farm.publish._secrets import Keyring, load_keyring
from farm.settings import Settings

STEP_KINDS = ("account_info", "start", "send", "query", "finish", "find")


def error_to_dict(err: BaseException) -> dict:
    out = {"error_class": type(err).__name__, "message": str(err)}
    for attr in ("reason", "retry_after_s", "reset_at", "unanswered", "scope", "bucket"):
        if getattr(err, attr, None) is not None:
            value = getattr(err, attr)
            out[attr] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def error_from_dict(d: dict) -> FarmError:
    """The farm error a step reported (RetryableError for anything outside the tree: a bug or a
    lost worker is retried within the bound)."""
    klass = getattr(farm_errors, d.get("error_class", ""), None)
    message = d.get("message", "")
    if not (isinstance(klass, type) and issubclass(klass, FarmError)):
        return farm_errors.RetryableError(f"{d.get('error_class')}: {message}")
    if issubclass(klass, farm_errors.PolicyError):
        return klass(message, reason=d.get("reason"))
    if issubclass(klass, farm_errors.QuotaError):
        reset = d.get("reset_at")
        return klass(message, reset_at=datetime.fromisoformat(reset) if reset else None,
                     scope=d.get("scope") or "account", bucket=d.get("bucket") or "upload")
    if issubclass(klass, farm_errors.ScopeError):
        return klass(message, scope=d.get("scope"))
    if issubclass(klass, farm_errors.RetryableError):
        return klass(message, retry_after_s=d.get("retry_after_s"), unanswered=bool(d.get("unanswered")))
    return klass(message)


class StepRunner:
    """Runs steps for one workspace: keeps one HTTP client and one keyring for its life.

    Args:
        root: the workspace folder (settings, key file, outbox).
        transport: an httpx transport for tests; None for the real network.
    """

    def __init__(self, root: str | Path, *, transport=None, sleep=None) -> None:
        self.root = Path(root)
        self.settings = Settings.load(self.root / "farm.toml")
        self.platform_settings = self.settings.platforms  # Settings.load applied FARM_* already
        self._keyring: Keyring | None = None
        self.http = make_http_client(self.platform_settings, transport=transport)
        self.sleep = sleep or time.sleep
        self._lock = threading.Lock()

    @property
    def keyring(self) -> Keyring:
        """The workspace's keys, read when first needed (a workspace without accounts has none)."""
        if self._keyring is None:
            self._keyring = load_keyring(self.root / ".farm")
        return self._keyring

    def close(self) -> None:
        self.http.close()

    def _decrypt(self, blob: bytes, account: str) -> Secret:
        """The token; the keys are read again once when they fail (``rotate-key`` ran meanwhile), and a
        token they still cannot read is a :class:`~farm.errors.KeyringError`."""
        try:
            return self.keyring.decrypt(blob, what=f"account {account}")
        except farm_errors.InputError:
            try:
                self._keyring = load_keyring(self.root / ".farm")
                return self._keyring.decrypt(blob, what=f"account {account}")
            except farm_errors.InputError as err:
                raise farm_errors.KeyringError(str(err)) from None

    def client(self, name: str, account_name: str) -> PlatformClient:
        return client_for(name, self.http, self.platform_settings, root=self.root, account=account_name,
                          sleep=self.sleep)

    def run(self, step: dict, on_bytes=None) -> dict:
        """Run ``step`` (kind, platform, account, token blob, request, session, offset) -> result dict."""
        kind = step["kind"]
        try:
            if kind not in STEP_KINDS:
                raise farm_errors.InputError(f"unknown upload step {kind!r}")
            client = self.client(step["platform"], step["account"])
            blob = step.get("token_blob")
            token = self._decrypt(blob, step["account"]) if blob else None
            request = UploadRequest.from_dict(step["request"]) if step.get("request") else None
            session = RemoteSession.from_dict(step["session"]) if step.get("session") else None
            if kind == "account_info":
                value = client.account_info(token, page_id=step.get("page_id"))
            elif kind == "start":
                value = client.start(token, request)
            elif kind == "send":
                value = client.send(token, session, request, offset=int(step["offset"]), on_bytes=on_bytes)
            elif kind == "query":
                value = client.query(token, session, request)
            elif kind == "finish":
                value = client.finish(token, session, request)
            else:
                value = client.find(token, request)
        except FarmError as err:
            return {"ok": False, **error_to_dict(err)}
        except OSError as err:  # the video file itself (a platform's network errors are mapped inside)
            return {"ok": False, "error_class": "InputError",
                    "message": f"{step.get('request', {}).get('path')}: cannot read the video ({err.strerror or err})"}
        if value is None:
            return {"ok": True, "value": None}
        if hasattr(value, "as_dict"):
            return {"ok": True, "value": value.as_dict()}
        return {"ok": True, "value": dataclasses.asdict(value)}
