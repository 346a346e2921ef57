"""Identifiers: time-ordered, URL-safe, unguessable."""

import os
import time


def new_id() -> str:
    """Return a 26-character id that sorts by creation time (UUIDv7 layout, hex)."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(7).hex()}"


def new_token(prefix: str) -> str:
    """Return a secret bearer token with a readable prefix, e.g. `wbx_dock_...`."""
    return f"{prefix}_{os.urandom(32).hex()}"
