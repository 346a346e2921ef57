"""Top-level ISO base media (MP4/MOV) box structure.

FFmpeg happily demuxes many damaged MP4s; walking the top-level box headers
catches truncation and missing indexes exactly and cheaply (a few reads per
file, whatever its size).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from witnessbox.media.errors import MediaError

# Box types that may open an ISO/QuickTime file; used to decide whether to walk it.
_LEADING_TYPES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"uuid", b"pdin", b"junk"}
)
_MAX_BOXES = 100_000  # far above any real file; bounds the walk on garbage


@dataclass(frozen=True)
class Box:
    """One top-level box: ``offset`` of its header and total ``size`` in bytes."""

    kind: str
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        """Offset just past the box."""
        return self.offset + self.size

    @property
    def payload_start(self) -> int:
        """Offset of the first byte after the header."""
        return self.offset + self.header


def looks_like_iso(path: Path) -> bool:
    """True when the file starts with a plausible MP4/MOV box header."""
    with path.open("rb") as handle:
        head = handle.read(8)
    return len(head) == 8 and head[4:8] in _LEADING_TYPES


def top_level_boxes(path: Path) -> list[Box]:
    """Walk the top-level boxes; MediaError when the chain is cut short or broken."""
    with path.open("rb") as handle:
        file_size = handle.seek(0, 2)
        boxes: list[Box] = []
        offset = 0
        while offset < file_size:
            if len(boxes) >= _MAX_BOXES:
                raise MediaError("corrupt: implausibly many MP4 boxes")
            if _is_ignorable_tail(handle, offset, boxes):
                break
            box = _read_box(handle, offset, file_size)
            boxes.append(box)
            offset = box.end
    return boxes


def _is_ignorable_tail(handle: BinaryIO, offset: int, boxes: list[Box]) -> bool:
    """Junk after a complete recording, which players ignore too.

    Some cameras pad files with zeros or leave stale bytes after the index.
    Only once both 'moov' and 'mdat' are complete is that harmless; a tail
    that looks like a (cut) box header still counts as truncation.
    """
    if not {"moov", "mdat"} <= {box.kind for box in boxes}:
        return False
    handle.seek(offset)
    head = handle.read(8)
    if len(head) < 8:
        return not any(head)
    return not all(0x20 <= c <= 0x7E for c in head[4:8])


def _read_box(handle: BinaryIO, offset: int, file_size: int) -> Box:
    """Parse the header at ``offset`` and check the box fits in the file."""
    handle.seek(offset)
    head = handle.read(16)
    if len(head) < 8:
        raise MediaError(f"truncated: the file ends inside an MP4 box header at byte {offset}")
    size, raw_kind = struct.unpack(">I4s", head[:8])
    if not all(0x20 <= c <= 0x7E for c in raw_kind):
        raise MediaError(f"corrupt: damaged MP4 box structure at byte {offset}")
    kind = raw_kind.decode("ascii")
    size, header = _box_size(size, head, offset, file_size)
    if size < header:
        raise MediaError(f"corrupt: MP4 '{kind}' box at byte {offset} has an impossible size")
    if offset + size > file_size:
        raise MediaError(
            f"truncated: the MP4 '{kind}' box needs {offset + size} bytes but the file ends after {file_size}"
        )
    return Box(kind, offset, size, header)


def _box_size(size: int, head: bytes, offset: int, file_size: int) -> tuple[int, int]:
    """Resolve the 32-bit, 64-bit ('largesize') and to-end-of-file size forms."""
    if size == 0:  # the box runs to the end of the file
        return file_size - offset, 8
    if size == 1:
        if len(head) < 16:
            raise MediaError(f"truncated: the file ends inside an MP4 box header at byte {offset}")
        return int(struct.unpack(">Q", head[8:16])[0]), 16
    return size, 8


def check_mp4_layout(boxes: list[Box]) -> None:
    """A playable MP4 needs its index (moov) and its media data (mdat)."""
    kinds = {box.kind for box in boxes}
    if "moov" not in kinds:
        raise MediaError("truncated: the MP4 index ('moov' box) is missing; the recording was not finalised")
    if "mdat" not in kinds:
        raise MediaError("corrupt: the MP4 has no media data ('mdat' box missing)")
