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
import faulthandler
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection, wait
from pathlib import Path

import av
import av.logging

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, clear_status, load_average, status
from tests.factories.mutations import make_seeds, mutate

from witnessbox.media import MediaError, make_proxy, probe, thumbnail_strip

MEMORY_LIMIT = 2 * 1024**3  # per worker: a file that makes FFmpeg allocate wildly fails, not the machine
OUTCOMES = ("success", "quarantine", "exception", "crash", "hang")


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


def stacks_file(pid: int) -> Path:
    """Where a worker's Python stack is written when a case runs long (read back for a hang)."""
    return OUT / f"stacks-{pid}.txt"


def worker(connection: Connection, run_seed: int, timeout_s: float) -> None:
    """Take cases from the parent until told to stop; answer each with its outcome."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    av.logging.set_level(av.logging.PANIC)
    seeds: dict[Path, bytes] = {}
    with stacks_file(os.getpid()).open("w") as stacks:
        while (case := connection.recv()) is not None:
            seed = seeds.setdefault(case.seed, case.seed.read_bytes())
            data, mutation = mutate(seed, case.number, run_seed)
            scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{os.getpid()}-", dir=OUT))
            faulthandler.dump_traceback_later(timeout_s * 0.8, file=stacks)
            try:
                path = scratch / f"case{case.seed.suffix.lower()}"
                path.write_bytes(data)
                outcome, detail = run_steps(path, scratch)
            finally:
                faulthandler.cancel_dump_traceback_later()
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
        process = Process(target=worker, args=(child, self.run_seed, self.timeout_s), daemon=True)
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
            _remove_scratch(process)
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
        stack = _last_stack(stacks_file(process.pid or 0))
        _remove_scratch(process)
        return case, "hang", mutation, f"over {self.timeout_s:.0f} s, killed; it was in {stack}"

    def close(self) -> None:
        """Stop every worker."""
        for process, connection in self.idle:
            connection.send(None)
            process.join(5)
        for process, _, _ in self.busy.values():
            process.kill()
        for stacks in OUT.glob("stacks-*.txt"):
            stacks.unlink(missing_ok=True)


def _remove_scratch(process: Process) -> None:
    """A worker that died or was killed could not clean up its case's folder."""
    for scratch in OUT.glob(f"fuzz-{process.pid}-*"):
        shutil.rmtree(scratch, ignore_errors=True)


def _last_stack(path: Path) -> str:
    """The innermost frames of the stack dumped when the case ran long."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip().startswith("File")]
    path.unlink(missing_ok=True)
    return " <- ".join(lines[:4]) or "(no stack written)"


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
