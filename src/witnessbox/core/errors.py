"""Errors that services raise and entry points translate (HTTP status, exit code)."""

import errno


class WitnessboxError(Exception):
    """Base class: `reason` is a sentence fit to show the person who caused it."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(WitnessboxError):
    """The request is malformed or fails validation; nothing was changed."""

    status = 400


class NotAuthenticated(WitnessboxError):
    """No valid credential was presented."""

    status = 401


class Forbidden(WitnessboxError):
    """The actor may not do this."""

    status = 403


class NotFound(WitnessboxError):
    """The thing does not exist (or the actor may not know it exists)."""

    status = 404


class Conflict(WitnessboxError):
    """The request conflicts with the current state, e.g. a wrong upload offset."""

    status = 409


class Gone(WitnessboxError):
    """The thing existed but has expired or was terminated."""

    status = 410


class PreconditionFailed(WitnessboxError):
    """A protocol precondition failed (unsupported tus version)."""

    status = 412


class TooLarge(WitnessboxError):
    """The upload exceeds the configured maximum."""

    status = 413


class UnsupportedMedia(WitnessboxError):
    """Wrong content type for the endpoint."""

    status = 415


class ChecksumMismatch(WitnessboxError):
    """A chunk's Upload-Checksum did not match its bytes (tus status 460)."""

    status = 460


class IntegrityFailure(WitnessboxError):
    """A whole file does not match its declared hash; it is never accepted as evidence."""

    status = 422


class TooManyAttempts(WitnessboxError):
    """Throttled: too many failed tries; `retry_after_s` says when to try again."""

    status = 429

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class ReasonRequired(Forbidden):
    """Allowed only once the actor records why they are opening this item."""

    status = 403


class TemporaryFailure(WitnessboxError):
    """The server cannot do this now but can later; Retry after `retry_after_s`."""

    status = 503
    retry_after_s = 30


class InsufficientStorage(TemporaryFailure):
    """The disk (or quota) holding uploads or evidence is full."""

    status = 507
    retry_after_s = 60


class StorageUnavailable(TemporaryFailure):
    """Reading or writing storage failed (an I/O error, a read-only or vanished disk)."""


FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
AFTERWARDS = "nothing half-written was kept; try again later"


def io_failure(error: OSError, doing: str) -> TemporaryFailure:
    """Translate a failed read or write of our own storage into the error a client can act on."""
    if error.errno in FULL:
        return InsufficientStorage(f"{doing}: the server's storage is full; {AFTERWARDS}")
    reason = error.strerror or type(error).__name__
    return StorageUnavailable(f"{doing}: storage failed ({reason}); {AFTERWARDS}")
