"""Errors raised by the media layer."""

from __future__ import annotations


class MediaError(Exception):
    """A file is not usable video.

    ``reason`` is a short human-readable sentence shown to administrators, so it
    must describe the problem with the file rather than the code path.
    """

    def __init__(self, reason: str) -> None:
        """Store ``reason`` (also used as the exception message)."""
        super().__init__(reason)
        self.reason = reason
