"""Minimal RIFF/WAVE check: is the file as long as its header says?

A WAVE file states its length in the RIFF header, so a copy cut short (a
call recording copied off a phone halfway) is caught the same way the MP4
box walk and the Matroska Segment check catch theirs.
"""

from __future__ import annotations

import struct
from pathlib import Path

from witnessbox.media.errors import MediaError

_HEADER = 12  # "RIFF", the size of what follows, "WAVE"
_STREAMING = 0xFFFFFFFF  # written by recorders that never went back to fill the size in


def check_riff_length(path: Path, size: int) -> None:
    """MediaError when the RIFF header declares more bytes than the file holds."""
    with path.open("rb") as handle:
        head = handle.read(_HEADER)
    if len(head) < _HEADER or head[:4] != b"RIFF":
        return
    declared = int(struct.unpack("<I", head[4:8])[0]) + 8
    if declared - 8 in (0, _STREAMING):
        return
    if size < declared:
        raise MediaError(
            f"truncated: the WAV file ends after {size} of the {declared} bytes its header declares"
        )
