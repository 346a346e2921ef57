"""Debian's nginx on loopback for tests: the configuration `witnessbox nginx-config` prints, run as is.

The only changes are what a non-root run in a temporary folder needs: the foreground, the pid
file and the temporary paths under `tmp_path` (and, as root, `user root` so workers may read the
store's owner-only files).
"""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

NGINX = Path("/usr/sbin/nginx")


@dataclass(frozen=True)
class Nginx:
    """A running nginx: its base URL, its folder, its error log."""

    url: str
    prefix: Path
    error_log: Path


def runnable(config_text: str, prefix: Path) -> str:
    """The configuration with the foreground, pid and temporary paths set for a run under `prefix`."""
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;\n" if os.geteuid() == 0 else ""
    head = f"daemon off;\n{user}pid {prefix / 'nginx.pid'};\n"
    return head + re.sub(r"(?m)^http \{$", "http {\n" + temp, config_text, count=1)


@contextmanager
def nginx_server(config_text: str, tmp_path: Path) -> Iterator[Nginx]:
    """Run nginx with this configuration until the block ends; skipped when nginx is not installed."""
    if not NGINX.exists():
        pytest.skip("Debian's nginx is not installed (apt-get install nginx-light)")
    listen = re.search(r"(?m)^\s*listen (127\.0\.0\.1:\d+)", config_text)
    if listen is None:
        raise ValueError("the configuration must listen on 127.0.0.1:<port> (nginx-config --plain-http --listen)")
    prefix = tmp_path / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(runnable(config_text, prefix))
    error_log = prefix / "startup.log"
    checked = subprocess.run([str(NGINX), "-t", "-p", str(prefix), "-e", str(error_log), "-c", str(config)],
                             capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refused the configuration:\n{checked.stderr}\n{config.read_text()}")
    with (prefix / "stdout.log").open("ab") as sink:
        process = subprocess.Popen([str(NGINX), "-p", str(prefix), "-e", str(error_log), "-c", str(config)],
                                   stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://{listen.group(1)}"
    try:
        _wait(url, process, error_log)
        yield Nginx(url, prefix, error_log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not answer: {log.read_text(errors='replace')[-3000:]}")
