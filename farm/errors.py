"""The farm's exception tree; the CLI maps each class to one line on stderr and an exit code.

::

    FarmError                      base of everything the farm raises on purpose
     +-- InputError  (exit 2)      bad media, bad options, bad config: permanent
     |    +-- RightsError          media whose licence forbids the requested use
     +-- UnavailableError (exit 3) a backend this machine cannot provide (NVENC, CUDA, ...)
     +-- RetryableError (exit 75)  network trouble, 5xx, a worker lost: try again later
     |    +-- BusyError            another farm process holds the workspace
     +-- QuotaError (exit 4)       a platform's or account's limit is reached
     +-- RenderError (exit 1)      an encoder or muxer failed on good input

Each class also inherits the closest builtin (``InputError`` is a ``ValueError``), so
callers may catch either, as PyAV does with its own errors.
"""

from __future__ import annotations


class FarmError(Exception):
    """Base class of the farm's errors; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class InputError(FarmError, ValueError):
    """Bad media, bad options or bad configuration: retrying will not help."""

    exit_code = 2


class RightsError(InputError):
    """The media's licence does not allow what was asked (e.g. publishing)."""


class UnavailableError(FarmError, RuntimeError):
    """A backend this machine cannot provide (an NVENC session, CUDA)."""

    exit_code = 3


class RetryableError(FarmError, RuntimeError):
    """Transient trouble (network, 5xx, a lost worker): worth retrying with backoff."""

    exit_code = 75


class QuotaError(FarmError, RuntimeError):
    """A platform quota or an account's cap is exhausted for now."""

    exit_code = 4


class RenderError(FarmError, RuntimeError):
    """Encoding or muxing failed although the inputs were readable."""

    exit_code = 1


class BusyError(RetryableError):
    """Another farm process holds the workspace (its catalog or its render lock)."""
