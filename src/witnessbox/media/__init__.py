"""Media layer: probe, thumbnail and proxy recordings; simulate body-worn cameras.

A leaf package: it depends only on the standard library, PyAV, numpy and
Pillow, never on the database, web or other witnessbox layers.
"""

from witnessbox.media.errors import MediaError
from witnessbox.media.probe import MediaFacts, probe
from witnessbox.media.proxy import ProxyResult, make_proxy, needs_transcode, software_versions
from witnessbox.media.simulate import (
    CameraSpec,
    RecordingSpec,
    read_sidecar,
    write_camera_folders,
    write_recording,
)
from witnessbox.media.thumbnails import ThumbnailStrip, thumbnail_strip

__all__ = [
    "CameraSpec",
    "MediaError",
    "MediaFacts",
    "ProxyResult",
    "RecordingSpec",
    "ThumbnailStrip",
    "make_proxy",
    "needs_transcode",
    "probe",
    "read_sidecar",
    "software_versions",
    "thumbnail_strip",
    "write_camera_folders",
    "write_recording",
]
