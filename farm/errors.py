"""The farm's exception tree; the CLI maps each class to one line on stderr and an exit code.

::

    FarmError                      base of everything the farm raises on purpose
     +-- InputError  (exit 2)      bad media, bad options, bad config            permanent
     |    +-- RightsError          media whose licence forbids the requested use permanent
     +-- UnavailableError (exit 3) a backend this machine cannot provide (NVENC) permanent
     |    +-- PolicyError          a platform refused the post (its reason)      permanent
     +-- RetryableError (exit 75)  network trouble, 5xx, 429, a worker lost      retried
     |    +-- BusyError            another farm process holds the workspace      retried
     |    +-- SessionLostError     a platform forgot an upload session           retried (anew)
     +-- QuotaError (exit 4)       a platform's or account's limit is reached    waits for reset_at
     +-- AuthError (exit 5)        a platform refused the account's token        refresh once, then reconnect
     |    +-- KeyringError         the token cannot be decrypted with the keys   waits for the key or a reconnect
     +-- ScopeError (exit 5)       the token lacks a scope the call needs        reconnect to grant it
     +-- RenderError (exit 1)      an encoder or muxer failed on good input      retried

Platform clients map every HTTP status and error code to one of these at their boundary;
the publisher decides what to do by the class alone: transient -> retry with backoff and
jitter within a bound, quota -> wait for the reset, auth -> refresh once then mark the
account, policy -> fail the upload with the platform's reason, never retried, scope -> the
call is not made again until the user reconnects and grants the scope (the account keeps
publishing when only its statistics scope is missing).

Each class also inherits the closest builtin (``InputError`` is a ``ValueError``), so
callers may catch either, as PyAV does with its own errors. ``permanent`` says whether a
job that failed with the error is worth another attempt: the job lifecycle reads the
flag, never the class's name. An exception from outside the tree (a bug) is retried.
"""

from __future__ import annotations

from farm.redact import redact


class FarmError(Exception):
    """Base class of the farm's errors; ``exit_code`` is what the CLI returns, ``permanent``
    whether a job that failed with it is not worth retrying. A message never carries a
    credential: credential-named parameters are masked as the error is made (``farm.redact``)."""

    exit_code = 1
    permanent = False

    def __init__(self, *args) -> None:
        if args and isinstance(args[0], str):
            args = (redact(args[0]), *args[1:])
        super().__init__(*args)


class InputError(FarmError, ValueError):
    """Bad media, bad options or bad configuration: retrying will not help."""

    exit_code = 2
    permanent = True


class RightsError(InputError):
    """The media's licence does not allow what was asked (e.g. publishing)."""


class UnavailableError(FarmError, RuntimeError):
    """A backend this machine cannot provide (an NVENC session, CUDA): the same machine
    will not have it on the next attempt either."""

    exit_code = 3
    permanent = True


class PolicyError(InputError):
    """A platform refused the post for what it is (its rules, its limits, the account's
    settings); ``reason`` is the platform's own words. Never retried."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = redact(reason or message)


class RetryableError(FarmError, RuntimeError):
    """Transient trouble (network, 5xx, 429, a lost worker): worth retrying with backoff;
    ``retry_after_s`` is the server's own hint when it gave one. ``unanswered``: the request
    may have reached the platform but no answer came back (a dropped connection, a stall),
    so whether it took effect is unknown; an error answer, or a connection never opened,
    says for sure that nothing happened."""

    exit_code = 75

    def __init__(self, message: str = "", *, retry_after_s: float | None = None, unanswered: bool = False) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.unanswered = unanswered


class SessionLostError(RetryableError):
    """The platform no longer knows an upload session (expired, or gone after a crash)."""


class AuthError(FarmError, PermissionError):
    """The platform refused the account's token: refresh it once; if that fails too, the
    account needs the user to reconnect it."""

    exit_code = 5
    permanent = True


class KeyringError(AuthError):
    """A stored token cannot be decrypted with the workspace's keys (the key was replaced):
    nothing is sent; the account waits for the old key to come back, or for a reconnect."""


class QuotaError(FarmError, RuntimeError):
    """A platform quota or an account's cap is exhausted for now; ``reset_at`` (naive UTC)
    is when it comes back, where known. ``scope``: whom it holds, ``project`` (every account
    of the app) or ``account`` (one channel, token or Page). ``bucket``: what it holds,
    ``upload`` (publishing) or ``read`` (statistics and lookups): platforms count them apart,
    so a spent one never holds the other."""

    exit_code = 4
    permanent = True

    def __init__(self, message: str = "", *, reset_at=None, scope: str = "account", bucket: str = "upload") -> None:
        super().__init__(message)
        self.reset_at = reset_at
        self.scope = scope
        self.bucket = bucket


class ScopeError(FarmError, PermissionError):
    """The token works but lacks a scope the call needs (``scope``, where the platform says):
    refreshing cannot add it; the user reconnects and grants it."""

    exit_code = 5
    permanent = True

    def __init__(self, message: str = "", *, scope: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope


class RenderError(FarmError, RuntimeError):
    """Encoding or muxing failed although the inputs were readable."""

    exit_code = 1


class BusyError(RetryableError):
    """Another farm process holds the workspace (its catalog or its render lock)."""


def is_permanent(err: BaseException) -> bool:
    """Whether a job that failed with ``err`` should fail for good (not be retried)."""
    return bool(getattr(err, "permanent", False)) if isinstance(err, FarmError) else False
