"""Running the server process: uvicorn around the app, the first administrator, the demo."""

import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from rich.console import Console

from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.logs import configure_logging
from witnessbox.web.app import create_app

console = Console()


StartHook = Callable[[Container, str], None]


def run_server(settings: Settings, *, host: str, port: int, on_start: StartHook | None = None) -> None:
    """Serve until interrupted; `on_start(container, base_url)` runs in a thread alongside."""
    configure_logging(settings.log_format)  # text or JSON, with request ids (decision 0031)
    container = build(settings)
    container.users.ensure_administrator(settings.admin_username, admin_password(settings))
    app = create_app(container, workers=settings.workers)
    base = f"http://{host}:{port}"
    if on_start is not None:
        threading.Thread(
            target=on_start, args=(container, base), daemon=True, name="witnessbox-on-start"
        ).start()
    if settings.log_format == "json":  # every line a JSON object, the first one too
        logging.getLogger(__name__).info("Witnessbox on %s, data in %s", base, settings.data_dir.resolve())
    else:
        console.print(f"Witnessbox on [bold]{base}[/bold], data in {settings.data_dir.resolve()}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # keep our handler: uvicorn's lines get the same format and request ids
        timeout_graceful_shutdown=10,
        # Behind the force's TLS proxy, trust its X-Forwarded-* so cookies get Secure and HSTS is sent.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        server_header=False,
    )


def admin_password(settings: Settings) -> str:
    """The configured administrator password, or one generated on first run and kept 0600."""
    if settings.admin_password is not None:
        return settings.admin_password.get_secret_value()
    path = settings.data_dir.resolve() / "admin-password"
    if not path.exists():
        _write_secret(path, secrets.token_urlsafe(16))
        console.print(
            f"First run: sign in as [bold]{settings.admin_username}[/bold] with the password in {path}"
        )
    return path.read_text().strip()


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
