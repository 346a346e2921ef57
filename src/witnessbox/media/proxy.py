"""Browser-playable, seekable MP4 proxies of original recordings.

Camera files that are already H.264/AAC with short GOPs are remuxed (packets
copied, nothing decoded), which is fast and loses nothing. Anything else is
transcoded to H.264 + AAC with a keyframe every two seconds so the player can
seek quickly. Both write the index ('moov') first (faststart) so playback can
start before the whole file has downloaded. A phone's display matrix (the way
up) is kept either way; sound alone becomes an audio-only MP4 (AAC).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.stream

from witnessbox.media.errors import MediaError
from witnessbox.media.probe import INPUT_ERRORS, MediaFacts, picture_stream, sound_stream

REMUX_VIDEO_CODECS = frozenset({"h264"})
REMUX_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
REMUX_AUDIO_CODECS = frozenset({"aac"})
X264_PRESET = "veryfast"
X264_CRF = 23
GOP_SECONDS = 2.0
AUDIO_BITRATE = 128_000
MUX_OPTIONS = {"movflags": "+faststart"}
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
# Errors that mean the machine, not the recording, is at fault: never blame the file.
# (Not EPERM: FFmpeg demuxers return a bare -1, i.e. EPERM, for damaged data.)
_ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})

Progress = Callable[[float], None]


@dataclass(frozen=True)
class ProxyResult:
    """How a proxy was made: ``method`` is "remux" or "transcode"."""

    method: str
    parameters: dict[str, object] = field(default_factory=dict)


def transcode_reasons(facts: MediaFacts, *, max_keyframe_interval_s: float = 2.0) -> list[str]:
    """Why ``facts`` cannot simply be remuxed for browsers (empty list: remux is fine)."""
    reasons = []
    if not facts.has_video:
        return _audio_reasons(facts)
    if facts.video_codec not in REMUX_VIDEO_CODECS:
        reasons.append(f"video codec {facts.video_codec} is not h264")
    if facts.pixel_format not in REMUX_PIXEL_FORMATS:
        reasons.append(f"pixel format {facts.pixel_format} is not 8-bit 4:2:0")
    if facts.audio_codec is not None and facts.audio_codec not in REMUX_AUDIO_CODECS:
        reasons.append(f"audio codec {facts.audio_codec} is not aac")
    gap = facts.max_keyframe_interval_s
    if gap is None or gap > max_keyframe_interval_s:
        reasons.append(f"keyframes up to {gap} s apart (limit {max_keyframe_interval_s} s)")
    return reasons


def _audio_reasons(facts: MediaFacts) -> list[str]:
    """Why sound alone must be re-encoded (only AAC is copied)."""
    if facts.audio_codec in REMUX_AUDIO_CODECS:
        return []
    return [f"audio codec {facts.audio_codec} is not aac"]


def needs_transcode(facts: MediaFacts, *, max_keyframe_interval_s: float = 2.0) -> bool:
    """True when the recording must be re-encoded to play and seek well in a browser."""
    return bool(transcode_reasons(facts, max_keyframe_interval_s=max_keyframe_interval_s))


def make_proxy(
    src: Path,
    dest: Path,
    facts: MediaFacts,
    *,
    max_keyframe_interval_s: float = 2.0,
    progress: Progress | None = None,
) -> ProxyResult:
    """Write a browser-playable, seekable MP4 (faststart) to dest."""
    reasons = transcode_reasons(facts, max_keyframe_interval_s=max_keyframe_interval_s)
    reporter = _Reporter(progress, facts.duration_s)
    if not reasons:
        try:
            return _guarded(lambda: _remux(src, dest, reporter))
        except MediaError as exc:
            # Some valid streams cannot be copied into MP4 (e.g. ADTS audio);
            # re-encoding still gives a proxy, and a truly broken file fails again.
            reasons = [f"remux failed: {exc.reason}"]
    return _guarded(lambda: _transcode(src, dest, facts, reasons, reporter))


def _guarded(job: Callable[[], ProxyResult]) -> ProxyResult:
    """Run ``job``, turning input problems into MediaError."""
    try:
        return job()
    except MediaError:
        raise
    except OSError as exc:
        if exc.errno in _ENVIRONMENT_ERRNOS:
            raise
        raise MediaError(f"cannot make a playable copy: {_message(exc)}") from exc
    except INPUT_ERRORS as exc:
        raise MediaError(f"cannot make a playable copy: {_message(exc)}") from exc


def _message(exc: BaseException) -> str:
    """Short error text, preferring FFmpeg's own wording."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text) or type(exc).__name__


def software_versions() -> dict[str, str]:
    """Library versions that determine the proxy bytes, for provenance records."""
    libs = {name: ".".join(map(str, version)) for name, version in av.library_versions.items()}
    return {"pyav": av.__version__, "ffmpeg": str(av.ffmpeg_version_info), **libs}


class _Reporter:
    """Calls ``progress`` with a fraction in [0, 1], at most once per percent."""

    def __init__(self, callback: Progress | None, duration_s: float) -> None:
        self._callback = callback
        self._duration = duration_s if duration_s > 0 else 0.0
        self._last = -1.0

    def at(self, seconds: float | None) -> None:
        """Report that media up to ``seconds`` has been written."""
        if self._callback is None or seconds is None or not self._duration:
            return
        fraction = min(1.0, max(0.0, seconds / self._duration))
        if fraction - self._last >= 0.01:
            self._last = fraction
            self._callback(fraction)

    def done(self) -> None:
        """Final 100 % report."""
        if self._callback is not None:
            self._callback(1.0)


def _open_output(dest: Path) -> av.container.OutputContainer:
    """MP4 output with the index moved to the front when the file is closed."""
    return av.open(str(dest), "w", format="mp4", options=dict(MUX_OPTIONS))


def _media_streams(container: av.container.InputContainer) -> list[av.stream.Stream]:
    """First video (if any) and first audio stream; data, subtitle and cover-art streams are dropped."""
    video = picture_stream(container)
    streams: list[av.stream.Stream] = [] if video is None else [video]
    audio = sound_stream(container)
    streams.extend([] if audio is None else [audio])
    return streams


# --------------------------------------------------------------------------
# Remux
# --------------------------------------------------------------------------


def _remux(src: Path, dest: Path, reporter: _Reporter) -> ProxyResult:
    """Copy the H.264/AAC packets into a faststart MP4 without decoding."""
    with av.open(str(src), metadata_errors="replace") as inp, _open_output(dest) as out:
        sources = _media_streams(inp)
        targets = {s.index: out.add_stream_from_template(s) for s in sources}
        for packet in inp.demux(sources):
            # Flush packets and packets without timing cannot be placed in MP4.
            if packet.pts is None or packet.dts is None:
                continue
            seconds = float(packet.pts * packet.time_base)
            packet.stream = targets[packet.stream.index]
            out.mux(packet)  # PyAV rescales pts/dts to the output stream time base
            reporter.at(seconds)
        video = [s for s in sources if s.type == "video"]
        audio = [s.codec_context.name for s in sources if s.type == "audio"]
    reporter.done()
    return ProxyResult("remux", _remux_parameters(bool(video), audio))


def _remux_parameters(video: bool, audio: list[str]) -> dict[str, object]:
    """Provenance for a stream copy."""
    return {
        "container": "mp4",
        "faststart": True,
        "video_codec": "h264" if video else None,
        "video": "copy" if video else None,
        "audio_codec": audio[0] if audio else None,
        "audio": "copy" if audio else None,
        "dropped_streams": "data, subtitle and extra audio",
        "software": software_versions(),
    }


# --------------------------------------------------------------------------
# Transcode
# --------------------------------------------------------------------------


class _VideoEncoder:
    """Decoded frames in, H.264 packets (fixed two-second GOP) out."""

    def __init__(self, out: av.container.OutputContainer, source: av.VideoStream, facts: MediaFacts) -> None:
        self.rate = _frame_rate(source, facts)
        self.rotation = facts.rotation
        self.gop = max(1, round(float(self.rate) * GOP_SECONDS))
        self.width, self.height = source.codec_context.width & ~1, source.codec_context.height & ~1
        self.x264_params = f"keyint={self.gop}:min-keyint={self.gop}:scenecut=0"
        options = {"preset": X264_PRESET, "crf": str(X264_CRF), "x264-params": self.x264_params}
        self.stream = out.add_stream("libx264", rate=self.rate, options=options)
        ctx = self.stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, "yuv420p"
        ctx.gop_size = self.gop
        # Pixels are encoded as recorded; the display matrix tells players the way up, as the original does.
        self.stream.set_display_rotation(self.rotation)
        # Keep the source time base so variable-frame-rate timing survives.
        self.time_base = source.time_base or Fraction(1, 90_000)
        ctx.time_base = self.time_base
        self.step = max(1, round(1 / (float(self.rate) * self.time_base)))
        self.origin = source.start_time
        self.longest = facts.duration_s
        self.last_pts: int | None = None
        self.frames = 0
        self.lead_in_frames = 0

    def encode(self, frame: av.VideoFrame | None) -> list[av.Packet[Any]]:
        """Encode one frame (None flushes)."""
        if frame is None:
            return list(self.stream.encode(None))
        picture = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        pts = self._next_pts(frame)
        packets = self._lead_in(pts) if self.frames == 0 else []
        picture.pts, picture.time_base = pts, self.time_base
        self.frames += 1
        return packets + list(self.stream.encode(picture))

    def _lead_in(self, first_pts: int) -> list[av.Packet[Any]]:
        """Black pictures from the stream's start up to its first decodable picture.

        CCTV cut between keyframes starts with pictures nothing can decode; black in their
        place keeps the copy's timeline (and so the clock, bookmarks and notes) on the
        original's. Never longer than the recording, whatever the timestamps claim.
        """
        if self.origin is None or first_pts - self.origin <= self.step:
            return []
        count = (first_pts - self.origin) // self.step
        if count * self.step * self.time_base > self.longest:
            return []
        black = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(black.planes, (16, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        packets: list[av.Packet[Any]] = []
        for index in range(count):
            black.pts, black.time_base = self.origin + index * self.step, self.time_base
            packets.extend(self.stream.encode(black))
        self.lead_in_frames = count
        return packets

    def _next_pts(self, frame: av.VideoFrame) -> int:
        """Source pts, forced strictly increasing (x264 and MP4 both insist)."""
        pts = frame.pts
        if frame.time_base is not None and pts is not None and frame.time_base != self.time_base:
            pts = round(pts * frame.time_base / self.time_base)
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            pts = 0 if self.last_pts is None else self.last_pts + self.step
        self.last_pts = pts
        return pts

    def parameters(self) -> dict[str, object]:
        """Provenance for the video encode."""
        return {
            "video_codec": "h264",
            "encoder": "libx264",
            "preset": X264_PRESET,
            "crf": X264_CRF,
            "pixel_format": "yuv420p",
            "gop": self.gop,
            "x264_params": self.x264_params,
            "width": self.width,
            "height": self.height,
            "fps": float(self.rate),
            "rotation": self.rotation,
            "black_lead_in_frames": self.lead_in_frames,
        }


def _frame_rate(source: av.VideoStream, facts: MediaFacts) -> Fraction:
    """Nominal frame rate for the encoder, 25 fps when nothing sensible is known."""
    rate = source.average_rate or source.guessed_rate
    if rate and 1 <= rate <= 240:
        return Fraction(rate).limit_denominator(1001)
    if facts.fps and 1 <= facts.fps <= 240:
        return Fraction(facts.fps).limit_denominator(1001)
    return Fraction(25)


class _AudioEncoder:
    """Decoded audio in, 128 kbit/s AAC packets out, resampled as needed."""

    def __init__(self, out: av.container.OutputContainer, source: av.AudioStream) -> None:
        ctx = source.codec_context
        self.rate = ctx.sample_rate if ctx.sample_rate in _AAC_RATES else 48_000
        self.layout = "stereo" if ctx.channels >= 2 else "mono"
        self.stream = out.add_stream("aac", rate=self.rate, layout=self.layout)
        self.stream.bit_rate = AUDIO_BITRATE
        # Open now to learn the encoder's fixed frame size before the first frame.
        self.stream.codec_context.open(strict=False)
        frame_size = self.stream.codec_context.frame_size or 1024
        self.resampler = av.AudioResampler(
            format="fltp", layout=self.layout, rate=self.rate, frame_size=frame_size
        )
        self.next_pts: int | None = None

    def encode(self, frame: av.AudioFrame | None) -> list[av.Packet[Any]]:
        """Resample and encode one decoded frame (None flushes)."""
        if self.next_pts is None:
            self.next_pts = _first_sample(frame, self.rate)
        packets: list[av.Packet[Any]] = []
        for chunk in self.resampler.resample(frame):
            chunk.pts, chunk.time_base = self.next_pts, Fraction(1, self.rate)
            self.next_pts += chunk.samples
            packets.extend(self.stream.encode(chunk))
        if frame is None:
            packets.extend(self.stream.encode(None))
        return packets

    def parameters(self) -> dict[str, object]:
        """Provenance for the audio encode."""
        return {
            "audio_codec": "aac",
            "audio_bitrate": AUDIO_BITRATE,
            "audio_rate": self.rate,
            "audio_layout": self.layout,
        }


def _first_sample(frame: av.AudioFrame | None, rate: int) -> int:
    """Output sample index of the first audio frame, keeping A/V offset."""
    if frame is None or frame.time is None:
        return 0
    return max(0, round(frame.time * rate))


class _Transcoder:
    """Decode every packet of the source and feed the encoders."""

    def __init__(
        self, inp: av.container.InputContainer, out: av.container.OutputContainer, facts: MediaFacts
    ) -> None:
        self.out = out
        self.sources = _media_streams(inp)
        video_in = picture_stream(inp)
        if video_in is not None:
            video_in.codec_context.thread_type = "AUTO"
        self.video = None if video_in is None else _VideoEncoder(out, video_in, facts)
        audio_in = sound_stream(inp)
        self.audio = _AudioEncoder(out, audio_in) if audio_in is not None else None
        self.decode_errors = 0

    def run(self, inp: av.container.InputContainer, reporter: _Reporter) -> None:
        """Transcode the whole file, then flush decoders and encoders."""
        for packet in inp.demux(self.sources):
            for frame in self._decode(packet):
                self._encode(frame)
                if isinstance(frame, av.VideoFrame) or self.video is None:
                    reporter.at(frame.time)
        if self.video is not None:
            self._mux(self.video.encode(None))
        if self.audio is not None:
            self._mux(self.audio.encode(None))
        if self.video is not None and self.video.frames == 0:
            raise MediaError("no video frame could be decoded")
        if self.video is None and (self.audio is None or self.audio.next_pts is None):
            raise MediaError("no audio could be decoded")

    def _decode(self, packet: av.Packet[Any]) -> list[av.VideoFrame | av.AudioFrame]:
        """Decode, skipping damaged packets (counted) instead of giving up."""
        try:
            return list(packet.decode())
        except INPUT_ERRORS:
            self.decode_errors += 1
            return []

    def _encode(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        """Route a decoded frame to its encoder."""
        if isinstance(frame, av.VideoFrame):
            if self.video is not None:
                self._mux(self.video.encode(frame))
        elif self.audio is not None:
            self._mux(self.audio.encode(frame))

    def _mux(self, packets: Iterable[av.Packet[Any]]) -> None:
        """Write encoded packets; the muxer interleaves audio and video."""
        for packet in packets:
            self.out.mux(packet)

    def parameters(self, reasons: list[str]) -> dict[str, object]:
        """Provenance for the whole transcode."""
        params: dict[str, object] = {"container": "mp4", "faststart": True, "reasons": reasons}
        params.update(self.video.parameters() if self.video else {"video_codec": None})
        params.update(self.audio.parameters() if self.audio else {"audio_codec": None})
        params["decode_errors"] = self.decode_errors
        params["software"] = software_versions()
        return params


def _transcode(
    src: Path, dest: Path, facts: MediaFacts, reasons: list[str], reporter: _Reporter
) -> ProxyResult:
    """Re-encode to H.264/AAC in a faststart MP4."""
    with av.open(str(src), metadata_errors="replace") as inp, _open_output(dest) as out:
        job = _Transcoder(inp, out, facts)
        job.run(inp, reporter)
    reporter.done()
    return ProxyResult("transcode", job.parameters(reasons))
