"""Automatic face redaction benchmark: Witnessbox against the `deface` command line, same files, same CPU.

In one run, for a 720p and a 1080p ground-truth recording (real face photographs moving across
a textured scene at known boxes; media/face_scenes.py; --seconds long, 25 fps):

* Witnessbox: `detect_tracks` (decode, detect, link into tracks) and the render of the redacted copy
  (`media/redact.render`, solid boxes) in a child process;
* `deface` 1.5 on the same file, with its onnxruntime backend (`onnx` installed, so its fast
  path), `--ep CPUExecutionProvider`, its default threshold (0.2, the same heatmap score
  Witnessbox uses) and mask scale (1.3, as Witnessbox grows its boxes), `--boxes --replacewith
  solid` (its cheapest effect);

and for each: frames per second over the whole child process (start-up and model load included),
peak memory (RSS, from the kernel's rusage of the child), recall (share of ground-truth faces,
over every frame, with at least 90% of the box redacted) and false-positive rate (share of
redaction boxes over no face). Witnessbox is scored on its tracks' boxes (box_at at each frame's
time). deface is scored on what it wrote: the pixels it blacked out (every scene pixel is at
least 24 bright), its boxes read back as the blacked-out blobs. The report says whether the
renderer (`witnessbox.media.redact`) is in the tree: then Witnessbox's time includes rendering the
redacted copy (solid boxes, H.264), as deface's includes writing its output video (libx264).
Target: Witnessbox >= 3x deface's frames per second at equal or better recall.
Run: `python bench/redact.py [--seconds 10] [--sizes 720,1080] [--gpu]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import av
import numpy as np
from _common import clear_status, fmt, load_average, status, temp_dir
from rich.console import Console
from rich.table import Table
from scipy import ndimage

from witnessbox.media.face_scenes import (
    FLOOR,
    MIN_COVER,
    SMALL_FACE,
    GroundTruth,
    Score,
    score,
    standard_scene,
    track_boxes,
    write_scene,
)
from witnessbox.media.facetracks import Keyframe, box_at

TARGET_RATIO = 3.0
BLACK = FLOOR // 2  # an output pixel darker than this in every channel was blacked out by deface
MIN_BLOB = 16  # blacked-out blobs smaller than this many pixels are encoder noise, not boxes
SIZES = {720: (1280, 720), 1080: (1920, 1080)}


@dataclass(frozen=True)
class Run:
    """One tool on one file: wall seconds, frames, peak RSS and its score."""

    tool: str
    seconds: float
    frames: int
    peak_rss_mb: float
    score: Score

    @property
    def fps(self) -> float:
        """Frames per second over the whole run."""
        return self.frames / self.seconds


def timed_child(command: list[str]) -> tuple[float, float]:
    """Run a child process; its wall seconds and peak RSS in MB (kernel rusage of that child)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, code, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if code != 0:
        raise RuntimeError(f"{command[0]} failed ({code}): {stderr[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def run_witnessbox(video: Path, truth: GroundTruth, work: Path, gpu: bool) -> Run:
    """Witnessbox's detect_tracks in a child process, scored on its tracks."""
    out = work / "tracks.json"
    command = [sys.executable, __file__, "--child", str(video), str(out)] + (["--gpu"] if gpu else [])
    seconds, rss = timed_child(command)
    tracks = json.loads(out.read_text())
    regions = [
        partial(box_at, tuple(Keyframe(k["t"], tuple(k["box"]), k["score"]) for k in keyframes))
        for keyframes in tracks
    ]
    return Run("witnessbox", seconds, len(truth.times), rss, score(truth, track_boxes(truth, regions)))


def run_deface(video: Path, truth: GroundTruth, work: Path, gpu: bool) -> Run:
    """The deface command line on the same file, scored on the pixels it blacked out."""
    deface = shutil.which("deface") or str(Path(sys.executable).with_name("deface"))
    out = work / "deface.mp4"
    provider = "CUDAExecutionProvider" if gpu else "CPUExecutionProvider"
    command = [deface, str(video), "-o", str(out), "--thresh", "0.2", "--mask-scale", "1.3",
               "--boxes", "--replacewith", "solid", "--backend", "onnxrt", "--ep", provider]
    seconds, rss = timed_child(command)
    return Run("deface", seconds, len(truth.times), rss, score_blacked_out(out, truth))


def score_blacked_out(video: Path, truth: GroundTruth) -> Score:
    """Recall and false positives of a solid-box redaction, read from the written pixels."""
    faces = covered = small = small_covered = boxes = false_positives = 0
    with av.open(str(video)) as container:
        frames = container.decode(container.streams.video[0])
        for faces_here, frame in zip(truth.faces, frames, strict=False):
            black = (frame.to_ndarray(format="rgb24") < BLACK).all(axis=2)
            blobs = [b for b in blob_boxes(black) if b[2] * b[3] >= MIN_BLOB]
            single = score(_one_frame(truth, faces_here), [blobs])
            for face in faces_here:
                x0, y0 = int(face[0]), int(face[1])
                region = black[y0 : int(face[1] + face[3]) + 1, x0 : int(face[0] + face[2]) + 1]
                hit = region.size > 0 and float(region.mean()) >= MIN_COVER
                faces += 1
                covered += hit
                if face[3] < SMALL_FACE:
                    small += 1
                    small_covered += hit
            boxes += single.boxes
            false_positives += single.false_positives
    return Score(faces, covered, small, small_covered, boxes, false_positives)


def _one_frame(truth: GroundTruth, faces: tuple[tuple[float, float, float, float], ...]) -> GroundTruth:
    """A one-frame ground truth, to score one frame's blobs."""
    return GroundTruth(truth.width, truth.height, truth.fps, (0.0,), (faces,))


def blob_boxes(mask: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The bounding boxes (x, y, w, h) of the connected true regions of a mask."""
    labels, _ = ndimage.label(mask)
    out = []
    for found in ndimage.find_objects(labels):
        if found is not None:
            rows, cols = found
            out.append((float(cols.start), float(rows.start), float(cols.stop - cols.start),
                        float(rows.stop - rows.start)))
    return out


def child(video: Path, out: Path, gpu: bool) -> None:
    """The measured Witnessbox run: detect and track, write the tracks as JSON."""
    from witnessbox.media.faces import FaceDetector
    from witnessbox.media.facetracks import detect_tracks

    detector = FaceDetector(providers=["CUDAExecutionProvider"] if gpu else None)
    detected = detect_tracks(video, detector=detector)
    if importlib.util.find_spec("witnessbox.media.redact") is not None:  # the copy, as the job makes it
        from witnessbox.media.redact import render

        regions = [{"id": track.id, "source": "auto", "enabled": True, "label": track.id,
                    "keyframes": [{"t": k.t, "box": list(k.box)} for k in track.keyframes]}
                   for track in detected.tracks]
        render(video, out.with_suffix(".mp4"), {"effect": "box", "regions": regions, "audio": []})
    out.write_text(json.dumps([[{"t": k.t, "box": k.box, "score": k.score} for k in track.keyframes]
                               for track in detected.tracks]))


def report(results: list[tuple[int, Run, Run]], seconds: float, load: tuple[float, float], gpu: bool) -> bool:
    """Print the table and the verdicts; True when every size meets the target."""
    console = Console()
    cores = os.cpu_count()
    console.print(f"load average (1 min): {load[0]:.2f} at start, {load[1]:.2f} at end; {cores} cores; "
                  f"{'CUDA asked' if gpu else 'CPU'}")
    if importlib.util.find_spec("witnessbox.media.redact") is None:
        console.print("Witnessbox: detection and tracking (no renderer, media/redact.py, in this tree)")
    else:
        console.print("Witnessbox: detection, tracking and rendering the copy (media/redact.py, solid boxes)")
    table = Table(title=f"Automatic face redaction of {seconds:g} s ground-truth recordings, 25 fps")
    for column in ("file", "tool", "frames/s", "recall", "recall <48 px", "false pos.", "peak RSS MB",
                   "wall s"):
        table.add_column(column, justify="right")
    ok = True
    for size, ours, theirs in results:
        for run in (ours, theirs):
            table.add_row(f"{size}p", run.tool, fmt(run.fps), f"{run.score.recall:.3f}",
                          f"{run.score.small_recall:.3f}", f"{run.score.false_positive_rate:.3f}",
                          fmt(run.peak_rss_mb, 0), fmt(run.seconds))
    console.print(table)
    for size, ours, theirs in results:
        ratio = ours.fps / theirs.fps
        good = ratio >= TARGET_RATIO and ours.score.recall >= theirs.score.recall
        ok &= good
        console.print(f"{size}p: witnessbox / deface frames per second {ratio:.2f} "
                      f"(target >= {TARGET_RATIO:g}); recall {ours.score.recall:.3f} "
                      f"vs {theirs.score.recall:.3f}: {'met' if good else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each recording")
    parser.add_argument("--sizes", default="720,1080", help="heights to test, from 720 and 1080")
    parser.add_argument("--gpu", action="store_true", help="onnxruntime's CUDA provider for both tools")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)  # the measured run
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.gpu)
        return 0
    start_load = load_average()
    results = []
    with temp_dir("wbx-redact-") as work:
        for size in (int(s) for s in args.sizes.split(",")):
            width, height = SIZES[size]
            video = work / f"scene-{size}.mp4"
            status(f"{size}p: writing the ground-truth recording")
            truth = write_scene(standard_scene(width, height, args.seconds, seed=size), video)
            status(f"{size}p: witnessbox")
            ours = run_witnessbox(video, truth, work, args.gpu)
            status(f"{size}p: deface")
            theirs = run_deface(video, truth, work, args.gpu)
            results.append((size, ours, theirs))
    clear_status()
    return 0 if report(results, args.seconds, (start_load, load_average()), args.gpu) else 1


if __name__ == "__main__":
    sys.exit(main())
