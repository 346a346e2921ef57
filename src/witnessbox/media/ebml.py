"""Minimal Matroska/WebM (EBML) check: is the Segment as long as it says?

Matroska writes the Segment size when it finalises a file, so a copy cut
short is caught by comparing that size with the file size, the same way the
MP4 box walk does.
"""

from __future__ import annotations

from pathlib import Path

from witnessbox.media.errors import MediaError

_EBML_ID = 0x1A45DFA3
_SEGMENT_ID = 0x18538067


def _vint(data: bytes, offset: int, keep_marker: bool) -> tuple[int, int, bool]:
    """Decode an EBML variable-length integer: (value, length, all-ones)."""
    if offset >= len(data) or data[offset] == 0:
        raise ValueError("bad vint")
    length = 9 - data[offset].bit_length()
    raw = data[offset : offset + length]
    if len(raw) < length:
        raise ValueError("short vint")
    value = int.from_bytes(raw, "big")
    payload = value & ((1 << (7 * length)) - 1)
    unknown = payload == (1 << (7 * length)) - 1
    return (value if keep_marker else payload), length, unknown


def _element(data: bytes, offset: int) -> tuple[int, int, int | None]:
    """(element id, payload offset, payload size or None when unknown)."""
    element_id, id_len, _ = _vint(data, offset, keep_marker=True)
    size, size_len, unknown = _vint(data, offset + id_len, keep_marker=False)
    return element_id, offset + id_len + size_len, None if unknown else size


def check_matroska_length(path: Path, file_size: int) -> None:
    """MediaError when a Matroska Segment claims more bytes than the file has."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    try:
        element_id, start, size = _element(head, 0)
        if element_id != _EBML_ID or size is None:
            return
        element_id, start, size = _element(head, start + size)
    except ValueError:
        return  # not laid out as expected; leave judgement to the demuxer
    if element_id == _SEGMENT_ID and size is not None and start + size > file_size:
        raise MediaError(
            f"truncated: the Matroska segment needs {start + size} bytes but the file ends after {file_size}"
        )
