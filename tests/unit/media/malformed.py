"""One hundred broken variants of a good recording, for probe and worker tests.

``malformed_variants(clip, out_dir)`` returns ``(name, path, must_be_rejected)``
triples. Variants where the file is cut short or a required part is missing
must be rejected; damage inside the media data or index may leave a file that
still plays, so for those either outcome is acceptable (but only MediaError
may ever be raised).
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

import av
from PIL import Image

VARIANT_COUNT = 100
Variant = tuple[str, Path, bool]


def _boxes(data: bytes) -> dict[str, tuple[int, int]]:
    """Top-level box type -> (offset, size); the clip is a simple camera MP4."""
    found: dict[str, tuple[int, int]] = {}
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        found.setdefault(kind.decode("ascii"), (offset, size))
        offset += size
    return found


def _spread(start: int, end: int, count: int) -> list[int]:
    """``count`` offsets evenly spread over [start, end)."""
    return [start + (end - start) * (i + 1) // (count + 1) for i in range(count)]


def _image(fmt: str) -> bytes:
    """A small real image file in ``fmt``."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def _audio_only(clip: Path, dest: Path) -> bytes:
    """The clip's audio remuxed on its own: a valid MP4 with no video."""
    with av.open(str(clip)) as src, av.open(str(dest), "w", format="mp4") as out:
        stream = out.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dest.read_bytes()


def _with(data: bytes, offset: int, patch: bytes) -> bytes:
    """``data`` with ``patch`` written over it at ``offset``."""
    return data[:offset] + patch + data[offset + len(patch) :]


def _whole_file_variants(
    data: bytes, box: dict[str, tuple[int, int]], rng: random.Random
) -> list[tuple[str, bytes, bool]]:
    """Wrong kinds of file and structurally incomplete MP4s: all must be rejected."""
    moov_at, moov_size = box["moov"]
    mdat_at, mdat_size = box["mdat"]
    without_moov = data[:moov_at] + data[moov_at + moov_size :]
    without_mdat = data[:mdat_at] + data[mdat_at + mdat_size :]
    return [
        ("empty", b"", True),
        ("header_only_ftyp", data[: box["ftyp"][1]], True),
        ("header_and_mdat_start", data[: mdat_at + 64], True),
        ("moov_removed", without_moov, True),
        ("mdat_removed", without_mdat, True),
        ("moov_only", data[moov_at : moov_at + moov_size], True),
        ("moov_renamed_free", _with(data, moov_at + 4, b"free"), True),
        ("mdat_size_zeroed", _with(data, mdat_at, b"\0\0\0\0"), True),
        ("random_bytes_64k", rng.randbytes(65536), True),
        ("random_bytes_100", rng.randbytes(100), True),
        ("zeros_64k", bytes(65536), True),
        ("text_file", b"Evidence notes\nnothing to see here\n" * 40, True),
        ("html_error_page", b"<!doctype html><html><body>502 Bad Gateway</body></html>\n", True),
        ("json_document", b'{"format": "witnessbox-camera/1", "camera": "WBX00001"}\n', True),
        ("jpeg_renamed", _image("JPEG"), True),
        ("png_renamed", _image("PNG"), True),
        ("gif_renamed", _image("GIF"), True),
    ]


def _truncations(data: bytes, box: dict[str, tuple[int, int]]) -> list[tuple[str, bytes, bool]]:
    """The file cut short at many points: always a rejection."""
    moov_at, moov_size = box["moov"]
    mdat_at, mdat_size = box["mdat"]
    cuts = [4, 16, box["ftyp"][1] + 4, mdat_at + 4, mdat_at + 12]
    cuts += _spread(mdat_at + 16, mdat_at + mdat_size, 26)
    cuts += [moov_at, moov_at + 4]
    cuts += _spread(moov_at + 8, moov_at + moov_size, 18)
    cuts += [len(data) - 8, len(data) - 1]
    return [(f"truncated_at_{cut}", data[:cut], True) for cut in cuts]


def _damage(
    data: bytes, box: dict[str, tuple[int, int]], rng: random.Random
) -> list[tuple[str, bytes, bool]]:
    """Zeroed, garbled and bit-flipped ranges; the file keeps its length."""
    moov_at, moov_size = box["moov"]
    mdat_at, mdat_size = box["mdat"]
    out: list[tuple[str, bytes, bool]] = []
    for at in _spread(mdat_at + 16, mdat_at + mdat_size - 512, 5):
        out.append((f"mdat_zeroed_{at}", _with(data, at, bytes(512)), False))
        out.append((f"mdat_garbled_{at + 100}", _with(data, at + 100, rng.randbytes(512)), False))
    for at in _spread(moov_at + 8, moov_at + moov_size - 64, 5):
        out.append((f"moov_zeroed_{at}", _with(data, at, bytes(64)), False))
        out.append((f"moov_garbled_{at + 20}", _with(data, at + 20, rng.randbytes(64)), False))
    for at in _spread(moov_at + 8, moov_at + moov_size, 4):
        out.append((f"moov_bitflip_{at}", _with(data, at, bytes([data[at] ^ 0x40])), False))
    out.append(("ftyp_garbled", _with(data, 8, rng.randbytes(16)), False))
    out.append(("first_box_type_garbled", _with(data, 4, b"XXXX"), False))
    out.append(("trailing_garbage", data + rng.randbytes(333), False))
    out.append(("trailing_partial_header", data + b"\0\0\0", False))
    out.append(("file_twice", data + data, False))
    return out


def malformed_variants(clip: Path, out_dir: Path) -> list[Variant]:
    """Write the 100 variants of ``clip`` into ``out_dir``; return (name, path, must_be_rejected)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = clip.read_bytes()
    box = _boxes(data)
    rng = random.Random(20261126)
    makers: list[Callable[[], list[tuple[str, bytes, bool]]]] = [
        lambda: _whole_file_variants(data, box, rng),
        # Sound alone is a recording too (a handed-in call recording): accepted, played with an audio player.
        lambda: [("audio_only", _audio_only(clip, out_dir / "audio_only.tmp"), False)],
        lambda: _truncations(data, box),
        lambda: _damage(data, box, rng),
    ]
    variants: list[Variant] = []
    for make in makers:
        for name, content, reject in make():
            path = out_dir / f"{len(variants):03d}_{name}.mp4"
            path.write_bytes(content)
            variants.append((name, path, reject))
    (out_dir / "audio_only.tmp").unlink(missing_ok=True)
    assert len(variants) == VARIANT_COUNT, len(variants)
    return variants
