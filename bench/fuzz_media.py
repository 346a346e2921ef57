"""Fuzz the media layer: mutated recordings probed, thumbnailed and proxied in workers with a time limit.

Seeds are real container files: the camera simulator's MP4 (H.264/AAC with its
metadata beside it), a phone clip with a display matrix, sparse-keyframe CCTV,
and files written here with PyAV in other formats (mkv, webm, mov, avi, mpegts,
m4a, mp3, wav). Each case is one seed under one mutation (byte flips,
truncation, a chunk duplicated or removed, a box or element size corrupted),
made from the case number alone so any case can be replayed with `--only N`.

Each case runs the ingest pipeline's media steps in order (probe, then
thumbnails for pictures, then the proxy) inside a worker process. A worker
that dies is a crash, one past `--timeout` is killed and counted as a hang;
MediaError is a quarantine (the pipeline keeps the original and shows the
reason); any other exception is a bug the pipeline would retry and give up on.
Targets: 0 crashes, 0 hangs, 0 other exceptions.

    python bench/fuzz_media.py [--cases 10000] [--workers 2] [--timeout 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection, wait
from pathlib import Path

import av
import av.logging
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, STARTED, clear_status, load_average, status
from tests.factories.media import audio_recording, phone_clip, sparse_keyframe_clip

from witnessbox.media import MediaError, make_proxy, probe, thumbnail_strip
from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

MEMORY_LIMIT = 2 * 1024**3  # per worker: a file that makes FFmpeg allocate wildly fails, not the machine
# Sizes are 32-bit big-endian before these ISO box types; corrupting them is the "box-size" mutation.
BOX_TYPES = (b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl",
             b"stsd", b"avc1", b"avcC", b"mp4a", b"esds", b"stts", b"stss", b"stsc", b"stsz", b"stco",
             b"co64", b"ctts", b"edts", b"elst", b"mdat", b"udta", b"meta", b"free")
# EBML IDs (Matroska/WebM) whose size field follows them.
EBML_IDS = (b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67", b"\x16\x54\xae\x6b", b"\x1f\x43\xb6\x75",
            b"\xa3", b"\xae", b"\x63\xa2", b"\x1c\x53\xbb\x6b", b"\x11\x4d\x9b\x74")
OUTCOMES = ("success", "quarantine", "exception", "crash", "hang")


# --- seeds -----------------------------------------------------------------------------------------


def _other_format(path: Path, container: str, video: str | None, audio: str | None) -> Path:
    """Two seconds of 160x120 pictures and/or a tone in the given container and codecs."""
    with av.open(str(path), "w", format=container) as out:
        v = out.add_stream(video, rate=25) if video else None
        if v is not None:
            v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
            v.codec_context.gop_size = 25
        a = out.add_stream(audio, rate=48_000, layout="stereo") if audio else None
        if a is not None:
            a.codec_context.open(strict=False)
        for index in range(50 if v else 0):
            rgb = np.full((120, 160, 3), (index * 5) % 256, np.uint8)
            rgb[: 10 + index, :, 0] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            for packet in v.encode(frame):
                out.mux(packet)
        if a is not None:
            _tone(out, a)
        for stream in (s for s in (v, a) if s is not None):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def _tone(out: av.container.OutputContainer, audio: av.AudioStream) -> None:
    ctx = audio.codec_context
    size = ctx.frame_size or 1024
    sample_format = ctx.format
    for start in range(0, 2 * 48_000, size):
        samples = 0.1 * np.sin(2 * np.pi * 440 * (start + np.arange(size)) / 48_000)
        planar = sample_format.is_planar
        dtype = {"s16": np.int16, "s32": np.int32, "flt": np.float32}[sample_format.name.rstrip("p")]
        scale = {np.int16: 32_767, np.int32: 2**31 - 1, np.float32: 1.0}[dtype]
        data = (np.stack([samples, samples]) * scale).astype(dtype)
        frame = av.AudioFrame.from_ndarray(data if planar else data.T.reshape(1, -1),
                                           format=sample_format.name, layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, start, Fraction(1, 48_000)
        for packet in audio.encode(frame):
            out.mux(packet)


SEED_MAKERS: dict[str, Callable[[Path], Path]] = {
    "camera.mp4": lambda folder: write_recording(
        folder, CameraSpec("WBX00001"), RecordingSpec(STARTED, 2.0, width=320, height=240, bookmarks=1),
        seed=1,
    ),
    "phone.mp4": lambda folder: phone_clip(folder / "phone.mp4"),
    "cctv.mp4": lambda folder: sparse_keyframe_clip(folder / "cctv.mp4", seconds=4.0),
    "clip.mkv": lambda folder: _other_format(folder / "clip.mkv", "matroska", "libx264", "aac"),
    "clip.webm": lambda folder: _other_format(folder / "clip.webm", "webm", "libvpx", "libopus"),
    "clip.mov": lambda folder: _other_format(folder / "clip.mov", "mov", "mpeg4", "pcm_s16le"),
    "clip.avi": lambda folder: _other_format(folder / "clip.avi", "avi", "mpeg4", "libmp3lame"),
    "clip.ts": lambda folder: _other_format(folder / "clip.ts", "mpegts", "libx264", "aac"),
    "call.m4a": lambda folder: audio_recording(folder / "call.m4a"),
    "call.mp3": lambda folder: audio_recording(folder / "call.mp3"),
    "call.wav": lambda folder: audio_recording(folder / "call.wav"),
}


def make_seeds(folder: Path) -> list[Path]:
    """Write every seed file once (each must pass the pipeline's media steps unmutated)."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name, make in SEED_MAKERS.items():
        sub = folder / name.replace(".", "-")
        sub.mkdir(exist_ok=True)
        seeds.append(make(sub))
    return seeds


# --- mutations -------------------------------------------------------------------------------------


def _flip_bytes(data: bytearray, rng: random.Random) -> str:
    for _ in range(rng.choice((1, 2, 4, 16, 64))):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return "byte flips"


def _truncate(data: bytearray, rng: random.Random) -> str:
    del data[rng.randrange(1, len(data)):]
    return "truncation"


def _duplicate_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.choice((1, 16, 188, 1024, 8192))]
    at = rng.randrange(len(data))
    data[at:at] = chunk
    return "chunk duplicated"


def _remove_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    del data[start:start + rng.choice((1, 16, 188, 1024, 8192))]
    return "chunk removed"


def _corrupt_size(data: bytearray, rng: random.Random) -> str:
    """An ISO box's 32-bit size or an EBML element's size byte set to something else."""
    iso = [i - 4 for kind in BOX_TYPES for i in _find_all(data, kind) if i >= 4]
    if iso:
        at = rng.choice(iso)
        value = rng.choice((0, 1, 7, 8, 0xFFFFFFFF, rng.randrange(2**32),
                            int.from_bytes(data[at:at + 4], "big") + rng.choice((-1, 1, 4096))))
        data[at:at + 4] = (value % 2**32).to_bytes(4, "big")
        return "box size"
    ebml = [i + len(key) for key in EBML_IDS for i in _find_all(data, key) if i + len(key) < len(data)]
    if ebml:
        data[rng.choice(ebml)] = rng.choice((0x00, 0x01, 0x80, 0xFF, rng.randrange(256)))
        return "element size"
    for _ in range(4):  # no sizes to find: damage the header instead
        data[rng.randrange(min(len(data), 64))] = rng.randrange(256)
    return "header bytes"


def _find_all(data: bytearray, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0 and len(found) < 200:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


MUTATIONS = (_flip_bytes, _truncate, _duplicate_chunk, _remove_chunk, _corrupt_size)


def mutate(seed: bytes, case: int, run_seed: int) -> tuple[bytes, str]:
    """The bytes of one case: one or two mutations, chosen from the case number alone."""
    rng = random.Random(run_seed * 1_000_003 + case)
    data = bytearray(seed)
    names = [rng.choice(MUTATIONS)(data, rng) for _ in range(rng.choice((1, 1, 1, 2)))]
    return bytes(data or b"\0"), " + ".join(names)


# --- the worker: the pipeline's media steps ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One mutated file to try."""

    number: int
    seed: Path


def run_steps(path: Path, scratch: Path) -> tuple[str, str]:
    """Probe, thumbnails (pictures only), proxy, as the ingest pipeline does: (outcome, detail)."""
    try:
        facts = probe(path)
        if facts.has_video:
            thumbnail_strip(path, scratch / "thumbnails.jpg", rotation=facts.rotation,
                            keyframe_interval_s=facts.max_keyframe_interval_s)
        made = make_proxy(path, scratch / "proxy.mp4", facts)
    except MediaError as refused:
        return "quarantine", refused.reason
    except Exception as error:  # noqa: BLE001 - anything else is what the fuzz is looking for
        return "exception", "".join(traceback.format_exception_only(error)).strip()
    return "success", made.method


def worker(connection: Connection, run_seed: int) -> None:
    """Take cases from the parent until told to stop; answer each with its outcome."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    av.logging.set_level(av.logging.PANIC)
    seeds: dict[Path, bytes] = {}
    while (case := connection.recv()) is not None:
        seed = seeds.setdefault(case.seed, case.seed.read_bytes())
        data, mutation = mutate(seed, case.number, run_seed)
        scratch = Path(tempfile.mkdtemp(prefix="fuzz-", dir=OUT))
        try:
            path = scratch / f"case{case.seed.suffix.lower()}"
            path.write_bytes(data)
            outcome, detail = run_steps(path, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        connection.send((outcome, mutation, detail))


# --- the parent: a pool that survives dead and stuck workers ---------------------------------------


class Pool:
    """Worker processes, one case each at a time; a dead worker is replaced, a stuck one killed."""

    def __init__(self, size: int, timeout_s: float, run_seed: int) -> None:
        self.size, self.timeout_s, self.run_seed = size, timeout_s, run_seed
        self.busy: dict[Connection, tuple[Process, Case, float]] = {}
        self.idle: list[tuple[Process, Connection]] = [self._spawn() for _ in range(size)]

    def _spawn(self) -> tuple[Process, Connection]:
        parent, child = Pipe()
        process = Process(target=worker, args=(child, self.run_seed), daemon=True)
        process.start()
        child.close()
        return process, parent

    def give(self, case: Case) -> None:
        """Start a case on an idle worker."""
        process, connection = self.idle.pop()
        connection.send(case)
        self.busy[connection] = (process, case, time.monotonic())

    def collect(self) -> list[tuple[Case, str, str, str]]:
        """Wait for at least one case to end (answered, crashed or timed out)."""
        sentinels = {process.sentinel: connection for connection, (process, _, _) in self.busy.items()}
        ready = wait([*self.busy, *sentinels], timeout=1.0)
        done = [self._answered(self._by_handle(h, sentinels)) for h in ready]
        done += [self._killed(c) for c, (_, _, t) in list(self.busy.items())
                 if c in self.busy and time.monotonic() - t > self.timeout_s]
        return [d for d in done if d is not None]

    def _by_handle(self, handle: object, sentinels: dict[int, Connection]) -> Connection:
        return handle if isinstance(handle, Connection) else sentinels[handle]  # type: ignore[index]

    def _answered(self, connection: Connection) -> tuple[Case, str, str, str] | None:
        if connection not in self.busy:
            return None  # already handled through its other handle
        process, case, _ = self.busy.pop(connection)
        try:
            outcome, mutation, detail = connection.recv()
        except (EOFError, OSError):
            process.join(5)
            code = process.exitcode
            how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
            connection.close()
            self.idle.append(self._spawn())
            return case, "crash", mutate(case.seed.read_bytes(), case.number, self.run_seed)[1], how
        self.idle.append((process, connection))
        return case, outcome, mutation, detail

    def _killed(self, connection: Connection) -> tuple[Case, str, str, str]:
        process, case, _ = self.busy.pop(connection)
        process.kill()
        process.join(5)
        connection.close()
        self.idle.append(self._spawn())
        mutation = mutate(case.seed.read_bytes(), case.number, self.run_seed)[1]
        return case, "hang", mutation, f"over {self.timeout_s:.0f} s, killed"

    def close(self) -> None:
        """Stop every worker."""
        for process, connection in self.idle:
            connection.send(None)
            process.join(5)
        for process, _, _ in self.busy.values():
            process.kill()


def fuzz(seeds: list[Path], cases: list[int], workers: int, timeout_s: float, run_seed: int,
         ) -> tuple[Counter[str], list[tuple[Case, str, str, str]], float]:
    """Run the cases; return outcome counts, the failures (crash, hang, exception) and the seconds taken."""
    pool = Pool(workers, timeout_s, run_seed)
    todo = [Case(n, seeds[n % len(seeds)]) for n in reversed(cases)]
    counts: Counter[str] = Counter()
    failures: list[tuple[Case, str, str, str]] = []
    started = time.monotonic()
    try:
        while todo or pool.busy:
            while todo and pool.idle:
                pool.give(todo.pop())
            for case, outcome, mutation, detail in pool.collect():
                counts[outcome] += 1
                counts[f"{_label(case.seed)}:{outcome}"] += 1
                if outcome in ("crash", "hang", "exception"):
                    failures.append((case, outcome, mutation, detail))
            done = sum(counts[o] for o in OUTCOMES)
            status(f"{done}/{len(cases)} cases, {done / max(time.monotonic() - started, 1e-9):.1f}/s")
    finally:
        pool.close()
        clear_status()
    return counts, failures, time.monotonic() - started


def _label(seed: Path) -> str:
    """The seed's name in SEED_MAKERS (its folder's name, dot restored)."""
    return seed.parent.name.replace("-", ".")


def report(seeds: list[Path], counts: Counter[str], failures: list[tuple[Case, str, str, str]],
           seconds: float, baseline_rate: float) -> None:
    """The figures: outcomes overall and per seed, the rate against the unmutated seeds' rate, failures."""
    total = sum(counts[o] for o in OUTCOMES)
    print(f"\n{total} cases in {seconds:.0f} s: {total / seconds:.2f} cases/s "
          f"({total / seconds / baseline_rate:.2f}x the unmutated seeds' {baseline_rate:.2f}/s)")
    print(f"{'seed':<14}" + "".join(f"{o:>12}" for o in OUTCOMES))
    for seed in seeds:
        label = _label(seed)
        print(f"{label:<14}" + "".join(f"{counts[f'{label}:{o}']:>12}" for o in OUTCOMES))
    print(f"{'all':<14}" + "".join(f"{counts[o]:>12}" for o in OUTCOMES))
    for case, outcome, mutation, detail in failures[:40]:
        print(f"  {outcome}: case {case.number} ({_label(case.seed)}, {mutation}): {detail}")
    verdict = "target met" if not failures else "TARGET MISSED"
    print(f"crashes {counts['crash']}, hangs {counts['hang']}, "
          f"other exceptions {counts['exception']}: {verdict}")


def main() -> int:
    """Parse arguments, make the seeds, check them, fuzz, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one case may take")
    parser.add_argument("--seed", type=int, default=1, help="run seed: same seed, same cases")
    parser.add_argument("--only", type=int, action="append", help="replay these case numbers")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-seeds-", dir=OUT))
    try:
        print(f"load average {load_average():.2f}; PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}")
        seeds = make_seeds(folder)
        baseline_rate = _check_seeds(seeds, folder)
        cases = args.only or list(range(args.cases))
        counts, failures, seconds = fuzz(seeds, cases, args.workers, args.timeout, args.seed)
        report(seeds, counts, failures, seconds, baseline_rate * args.workers)
        print(f"load average {load_average():.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failures else 0


def _check_seeds(seeds: list[Path], folder: Path) -> float:
    """Every seed must pass unmutated (else the fuzz measures nothing); returns seeds/s on one worker."""
    started = time.monotonic()
    for seed in seeds:
        scratch = folder / f"check-{seed.name}"
        scratch.mkdir()
        outcome, detail = run_steps(seed, scratch)
        if outcome != "success":
            raise SystemExit(f"seed {seed.name} does not pass unmutated: {detail}")
    return len(seeds) / (time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
