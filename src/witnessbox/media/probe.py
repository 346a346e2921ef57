"""Open, check and describe a recording.

``probe`` demuxes every packet (without decoding, apart from the first video
frame) because a header alone says nothing about whether the media data is
really there: truncated uploads and half-written camera files look fine until
you read to the end.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.container
import av.error
import av.stream

from witnessbox.media.boxes import Box, check_mp4_layout, looks_like_iso, top_level_boxes
from witnessbox.media.ebml import check_matroska_length
from witnessbox.media.errors import MediaError
from witnessbox.media.riff import check_riff_length
from witnessbox.media.tracks import Track, seconds

# Errors PyAV and the file system raise for bad input; all become MediaError.
# Arithmetic/Index/Runtime errors cover PyAV surfacing nonsense values
# (zero rates, absurd timestamps) from damaged headers.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    OSError,
    EOFError,
    ValueError,
    ArithmeticError,
    IndexError,
    RuntimeError,
)

_ISO_NAMES = frozenset({"mov", "mp4"})
# Containers whose overall duration is written in a header rather than estimated
# from bit rate, so a shortfall against it reliably means missing data.
_HEADER_DURATION_FORMATS = frozenset({"mp4", "matroska", "avi", "flv", "asf"})
_FIRST_FRAME_PACKETS = 300  # give up on the first frame this many packets after the first keyframe
_SHORTFALL_MIN_S = 0.5  # how far short of the declared duration counts as truncated
_SHORTFALL_FRACTION = 0.01


@dataclass(frozen=True)
class MediaFacts:
    """What a recording is, as found by :func:`probe`."""

    container: str
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    duration_s: float
    bit_rate: int | None
    pixel_format: str | None
    max_keyframe_interval_s: float | None
    # Degrees the picture is turned counter-clockwise for display (a phone's display matrix).
    rotation: int = 0

    @property
    def has_audio(self) -> bool:
        """True when the recording has an audio stream."""
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        """False for sound alone (a call recording)."""
        return self.video_codec is not None

    def as_dict(self) -> dict[str, object]:
        """JSON-serialisable field mapping (plus ``has_audio``)."""
        facts = dataclasses.asdict(self)
        facts["has_audio"] = self.has_audio
        return facts


def picture_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first moving-picture stream; cover art in a music or call-recording file does not count."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def sound_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    """The first audio stream, when FFmpeg can say what it is (the facts describe no other)."""
    if not container.streams.audio or container.streams.audio[0].codec_context is None:
        return None
    return container.streams.audio[0]


def normalise_container(format_name: str) -> str:
    """Short container name: the ISO/QuickTime demuxer family becomes 'mp4'."""
    names = format_name.split(",")
    return "mp4" if _ISO_NAMES.intersection(names) else names[0]


def probe(path: Path) -> MediaFacts:
    """Open, check and describe a recording (video, or sound alone).

    Raise MediaError with a clear reason when it is not usable media. Every
    packet is demuxed (constant memory), so truncation is caught, not guessed.
    """
    size = _regular_file_size(path)
    boxes = _iso_structure(path)
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if boxes is None and normalise_container(container.format.name) == "mp4":
                # FFmpeg recognised MP4 by content although the first box was odd.
                boxes = _walk_boxes(path)
            return _Prober(container, path, size, boxes).run()
    except MediaError:
        raise
    except av.error.InvalidDataError as exc:
        raise MediaError(_unrecognised_reason(boxes)) from exc
    except INPUT_ERRORS as exc:
        raise MediaError(f"unreadable media file: {_describe_error(exc)}") from exc


def _regular_file_size(path: Path) -> int:
    """Size of ``path``; MediaError when it is missing, not a file, or empty."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise MediaError("file not found") from exc
    except OSError as exc:
        raise MediaError(f"file cannot be read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise MediaError("not a regular file")
    if info.st_size == 0:
        raise MediaError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError("file cannot be read: permission denied")
    return info.st_size


def _iso_structure(path: Path) -> list[Box] | None:
    """Top-level boxes for MP4/MOV files (validated), None for other formats."""
    try:
        is_iso = looks_like_iso(path)
    except OSError as exc:
        raise MediaError(f"file cannot be read: {exc.strerror or exc}") from exc
    return _walk_boxes(path) if is_iso else None


def _walk_boxes(path: Path) -> list[Box]:
    """Validated top-level MP4 boxes."""
    try:
        boxes = top_level_boxes(path)
    except OSError as exc:
        raise MediaError(f"file cannot be read: {exc.strerror or exc}") from exc
    check_mp4_layout(boxes)
    return boxes


def _unrecognised_reason(boxes: list[Box] | None) -> str:
    """Reason for a file FFmpeg cannot open at all."""
    if boxes is not None:
        return "corrupt: the MP4 index ('moov' box) cannot be read"
    return "not a media file: format not recognised"


def _describe_error(exc: BaseException) -> str:
    """FFmpeg's message without the errno/file-name decoration PyAV adds."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc) or type(exc).__name__


class _Prober:
    """One probe run: demux everything, then judge and describe the file."""

    def __init__(
        self, container: av.container.InputContainer, path: Path, size: int, boxes: list[Box] | None
    ) -> None:
        self.container = container
        self.path, self.size = path, size
        self.iso = boxes is not None
        self.mdats = [box for box in boxes or () if box.kind == "mdat"]
        self.video = self._video_stream()
        self.audio = self._audio_stream()
        # The stream whose first frame must decode: the picture, or the sound when there is none.
        self.lead: av.VideoStream | av.AudioStream = self.video or self.audio  # type: ignore[assignment]
        self.tracks = {s.index: Track(s) for s in (self.video, self.audio) if s is not None}
        self.first_frame: av.VideoFrame | av.AudioFrame | None = None
        self.decode_attempts = 0  # packets fed from the first keyframe on
        self.fed = False

    def _video_stream(self) -> av.VideoStream | None:
        """The first video stream (None for sound alone), rejecting still images and files with neither."""
        fmt = self.container.format.name
        if fmt in {"image2", "image2pipe"} or fmt.endswith("_pipe"):
            raise MediaError("not a video file: a still image")
        stream = picture_stream(self.container)
        if stream is None:
            if not self.container.streams.audio:
                raise MediaError("not a media file: no video or audio stream")
            return None
        if stream.codec_context is None or not stream.codec_context.width:
            raise MediaError("corrupt: the video stream has no usable codec parameters")
        return stream

    def _audio_stream(self) -> av.AudioStream | None:
        """The first audio stream; for sound alone it must say how it is sampled."""
        if not self.container.streams.audio:
            return None
        stream = self.container.streams.audio[0]
        usable = stream.codec_context is not None and stream.codec_context.sample_rate > 0
        if self.video is None and not usable:
            raise MediaError("corrupt: the audio stream has no usable codec parameters")
        return stream

    def run(self) -> MediaFacts:
        """Demux, check and describe."""
        self._demux_all()
        self._check_complete()
        return self._facts()

    def _demux_all(self) -> None:
        """Read every packet of the video and first audio stream."""
        streams = [s for s in (self.video, self.audio) if s is not None]
        position = 0.0
        try:
            for packet in self.container.demux(streams):
                if packet.size == 0 and packet.pts is None:
                    continue  # PyAV's end-of-stream marker
                self._check_position(packet)
                self.tracks[packet.stream.index].add(packet)
                position = seconds(packet.pts, packet.time_base) or position
                if packet.stream is self.lead:
                    self._decode_first_frame(packet)
        except MediaError:
            raise
        except INPUT_ERRORS as exc:
            raise MediaError(
                f"corrupt: reading media data failed at {position:.1f} s ({_describe_error(exc)})"
            ) from exc
        self._flush_first_frame()

    def _check_position(self, packet: av.Packet[Any]) -> None:
        """Every sample must lie inside the file and, for MP4, inside an 'mdat' box."""
        pos = packet.pos
        if pos is None or pos < 0:
            return
        if pos + packet.size > self.size:
            raise MediaError(
                f"truncated: media data at byte {pos} lies beyond the end of the file ({self.size} bytes)"
            )
        if self.mdats and not any(m.payload_start <= pos and pos + packet.size <= m.end for m in self.mdats):
            raise MediaError(f"corrupt: media data at byte {pos} lies outside the MP4 'mdat' box")

    def _decode_first_frame(self, packet: av.Packet[Any]) -> None:
        """Decode until one picture (or sound frame) comes out, proving the stream is decodable."""
        if self.first_frame is not None or self.decode_attempts > _FIRST_FRAME_PACKETS:
            return
        # CCTV cut mid-minute starts long before its first keyframe: those packets are fed (they
        # cost little and some streams flag no keyframes) but only count from the first keyframe.
        if self.decode_attempts or packet.is_keyframe:
            self.decode_attempts += 1
        if not self.fed:
            # Frame threading delays output by several packets; one thread answers at once.
            self.lead.codec_context.thread_count = 1
            self.fed = True
        try:
            frames = self.lead.codec_context.decode(packet)
        except INPUT_ERRORS:
            return  # a damaged packet; the next keyframe may still decode
        if frames:
            self.first_frame = frames[0]

    def _flush_first_frame(self) -> None:
        """Drain the decoder if it still holds the first picture, then judge."""
        if self.first_frame is None and self.fed:
            try:
                frames = self.lead.codec_context.decode(None)
            except INPUT_ERRORS:
                frames = []
            self.first_frame = frames[0] if frames else None
        if self.first_frame is None:
            raise MediaError(f"corrupt: no {'video frame' if self.video else 'audio'} can be decoded")

    def _check_complete(self) -> None:
        """The streams must deliver (nearly) all the time the headers declare."""
        for track in self.tracks.values():
            kind = "video" if track.stream is self.video else "audio"
            self._check_shortfall(kind, track.span, track.declared)
        if normalise_container(self.container.format.name) in _HEADER_DURATION_FORMATS:
            longest = max(track.span for track in self.tracks.values())
            declared = self.container.duration
            self._check_shortfall("media", longest, declared / av.time_base if declared else None)
        if self.container.format.name.startswith("matroska"):
            check_matroska_length(self.path, self.size)
        if self.container.format.name == "wav":
            check_riff_length(self.path, self.size)
        if self.container.format.name == "mpegts" and self.size % 188 and self.size % 192:
            raise MediaError("truncated: the transport stream ends part-way through a packet")

    def _check_shortfall(self, kind: str, span: float, declared: float | None) -> None:
        """MediaError when ``span`` falls well short of a ``declared`` duration."""
        if declared is None or declared <= 0:
            return
        allowance = max(_SHORTFALL_MIN_S, _SHORTFALL_FRACTION * declared)
        if span < declared - allowance:
            # An intact MP4 box chain means the file is whole: the index lies.
            problem = "corrupt" if self.iso else "truncated"
            raise MediaError(f"{problem}: {kind} data ends at {span:.1f} s of {declared:.1f} s declared")

    def _duration(self) -> float:
        """Declared duration when the header has one, else what was demuxed."""
        declared = self.container.duration
        if declared is not None and declared > 0:
            duration = declared / av.time_base
        else:
            duration = max(track.span for track in self.tracks.values())
        if not math.isfinite(duration) or duration <= 0.001:
            raise MediaError("zero duration: the recording contains no playable time")
        return round(duration, 3)

    def _facts(self) -> MediaFacts:
        """Assemble the description once the file has passed every check."""
        if self.video is None:
            return self._sound_facts()
        video_track = self.tracks[self.video.index]
        if video_track.packets == 0:
            raise MediaError("no video data: the video stream has no frames")
        if video_track.packets == 1:
            raise MediaError("not a video file: a single still image")
        ctx = self.video.codec_context
        first = self.first_frame if isinstance(self.first_frame, av.VideoFrame) else None
        return MediaFacts(
            container=normalise_container(self.container.format.name),
            video_codec=ctx.name,
            audio_codec=self.audio.codec_context.name if self.audio and self.audio.codec_context else None,
            width=ctx.width or None,
            height=ctx.height or None,
            fps=self._fps(self.video),
            duration_s=self._duration(),
            bit_rate=self.container.bit_rate or None,
            pixel_format=ctx.pix_fmt or (first.format.name if first else None),
            max_keyframe_interval_s=video_track.keyframe_interval(),
            rotation=_rotation(first),
        )

    def _sound_facts(self) -> MediaFacts:
        """The description of sound alone (a call recording)."""
        assert self.audio is not None  # _video_stream refused a file with neither
        if self.tracks[self.audio.index].packets == 0:
            raise MediaError("no audio data: the audio stream has no samples")
        return MediaFacts(
            container=normalise_container(self.container.format.name),
            video_codec=None,
            audio_codec=self.audio.codec_context.name,
            width=None,
            height=None,
            fps=None,
            duration_s=self._duration(),
            bit_rate=self.container.bit_rate or None,
            pixel_format=None,
            max_keyframe_interval_s=None,
        )

    @staticmethod
    def _fps(video: av.VideoStream) -> float | None:
        """Average frame rate, falling back to FFmpeg's guess."""
        rate = video.average_rate or video.guessed_rate
        if not rate or not math.isfinite(float(rate)) or rate <= 0:
            return None
        return round(float(rate), 3)


def _rotation(frame: av.VideoFrame | None) -> int:
    """The display rotation in whole quarter turns (0, 90, 180, 270), counter-clockwise."""
    if frame is None:
        return 0
    try:
        degrees = float(frame.rotation or 0)
    except INPUT_ERRORS:
        return 0
    if not math.isfinite(degrees):
        return 0
    return (round(degrees / 90) * 90) % 360
