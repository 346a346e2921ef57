"""Running totals of one demuxed stream: the time it really holds, and how far apart its keyframes are."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import av.stream


def seconds(value: int | None, time_base: Fraction | None) -> float | None:
    """A stream timestamp in seconds, or None when unknown."""
    if value is None or time_base is None:
        return None
    return float(value * time_base)


class Track:
    """Running totals for one demuxed stream, in constant memory."""

    def __init__(self, stream: av.stream.Stream) -> None:
        self.stream = stream
        self.time_base = stream.time_base
        self.packets = 0
        self.start: float | None = None
        self.end: float | None = None
        self.last_keyframe: float | None = None
        self.max_keyframe_gap: float | None = None

    def add(self, packet: av.Packet[Any]) -> None:
        """Account for one packet's timing."""
        t = seconds(packet.pts if packet.pts is not None else packet.dts, self.time_base)
        if t is None:
            return
        self.packets += 1
        self.start = t if self.start is None else min(self.start, t)
        end = t + (seconds(packet.duration, self.time_base) or 0.0)
        self.end = end if self.end is None else max(self.end, end)
        if packet.is_keyframe:
            self._keyframe_at(t)

    def _keyframe_at(self, t: float) -> None:
        """Track the widest gap between consecutive keyframes (and from the start to the first)."""
        since = self.last_keyframe if self.last_keyframe is not None else self.start
        if since is not None and t > since:
            self._widen(t - since)
        if self.last_keyframe is None or t > self.last_keyframe:
            self.last_keyframe = t

    def _widen(self, gap: float) -> None:
        """Record ``gap`` if it is the widest so far."""
        self.max_keyframe_gap = gap if self.max_keyframe_gap is None else max(self.max_keyframe_gap, gap)

    def keyframe_interval(self) -> float | None:
        """Widest keyframe gap, counting the stretch after the last keyframe too.

        The tail counts because a long run without keyframes at the end of a
        file hurts seeking exactly as much as one in the middle.
        """
        if self.last_keyframe is not None and self.end is not None:
            self._widen(self.end - self.last_keyframe)
        return None if self.max_keyframe_gap is None else round(self.max_keyframe_gap, 3)

    @property
    def span(self) -> float:
        """Seconds of media actually demuxed."""
        return 0.0 if self.start is None or self.end is None else self.end - self.start

    @property
    def declared(self) -> float | None:
        """Duration the container header promises for this stream."""
        return seconds(self.stream.duration, self.time_base)
