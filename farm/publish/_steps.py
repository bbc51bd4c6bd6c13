"""One upload step run where the bytes are (an Uploader actor, or this process with --local).

A step is a plain dict in and a plain dict out, so it crosses to a Ray actor and back as
is. The token travels encrypted and is decrypted here, with the workspace's keyring; a
platform error comes back as its class name and fields, re-raised by the driver.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from farm import errors as farm_errors
from farm.errors import FarmError

STEP_KINDS = ("account_info", "start", "send", "query", "finish", "find")


def error_to_dict(err: BaseException) -> dict:
    out = {"error_class": type(err).__name__, "message": str(err)}
    for attr in ("reason", "retry_after_s", "reset_at", "unanswered"):
        if getattr(err, attr, None) is not None:
            value = getattr(err, attr)
            out[attr] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def error_from_dict(d: dict) -> FarmError:
    """The farm error a step reported (RetryableError for anything outside the tree: a bug or a
    lost worker is retried within the bound)."""
    from datetime import datetime

    klass = getattr(farm_errors, d.get("error_class", ""), None)
    message = d.get("message", "")
    if not (isinstance(klass, type) and issubclass(klass, FarmError)):
        return farm_errors.RetryableError(f"{d.get('error_class')}: {message}")
    if issubclass(klass, farm_errors.PolicyError):
        return klass(message, reason=d.get("reason"))
    if issubclass(klass, farm_errors.QuotaError):
        reset = d.get("reset_at")
        return klass(message, reset_at=datetime.fromisoformat(reset) if reset else None)
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
        import time

        from farm.platforms import make_http_client
        from farm.publish._secrets import load_keyring
        from farm.settings import Settings

        self.root = Path(root)
        self.settings = Settings.load(self.root / "farm.toml")
        self.platform_settings = self.settings.platforms  # Settings.load applied FARM_* already
        self.keyring = load_keyring(self.root / ".farm")
        self.http = make_http_client(self.platform_settings, transport=transport)
        self.sleep = sleep or time.sleep
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def _decrypt(self, blob: bytes, account: str):
        """The token; the keys are read again once when they fail (``rotate-key`` ran meanwhile)."""
        from farm.publish._secrets import load_keyring

        try:
            return self.keyring.decrypt(blob, what=f"account {account}")
        except farm_errors.InputError:
            self.keyring = load_keyring(self.root / ".farm")
            return self.keyring.decrypt(blob, what=f"account {account}")

    def client(self, platform: str, account_name: str):
        from farm.platforms import client_for

        outbox = self.root / "outbox" / account_name if platform == "local" else None
        return client_for(platform, self.http, self.platform_settings, outbox=outbox, sleep=self.sleep)

    def run(self, step: dict, on_bytes=None) -> dict:
        """Run ``step`` (kind, platform, account, token blob, request, session, offset) -> result dict."""
        from farm.platforms import RemoteSession, UploadRequest

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
