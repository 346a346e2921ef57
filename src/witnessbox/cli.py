"""The `witnessbox` command: serve, worker, dock, simulate and the administrators' verbs.

Thin: each verb loads settings, builds the container and calls one service.
"""

import getpass
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser
from witnessbox.audit.keyring import new_signer, rotate_directory_key
from witnessbox.audit.signing import CheckpointSigner
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings, load_settings
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import WitnessboxError
from witnessbox.jobs.huey_queue import POLL_S
from witnessbox.retention.scrub_models import ScrubFinding

app = typer.Typer(help="Witnessbox: evidence management for body-worn video.", no_args_is_help=True)
cameras = typer.Typer(help="Register and list cameras.", no_args_is_help=True)
docks = typer.Typer(help="Register and list docks.", no_args_is_help=True)
audit = typer.Typer(help="Prove and checkpoint the audit trail.", no_args_is_help=True)
users = typer.Typer(help="People, their roles and teams.", no_args_is_help=True)
teams = typer.Typer(help="Teams and stations.", no_args_is_help=True)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(cameras, name="cameras")
app.add_typer(docks, name="docks")
app.add_typer(audit, name="audit")
app.add_typer(db, name="db")
app.add_typer(users, name="users")
app.add_typer(teams, name="teams")
retention = typer.Typer(help="The retention schedule and the deletion path.", no_args_is_help=True)
app.add_typer(retention, name="retention")
console = Console()
T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="data directory [default: ./witnessbox-data]")
]


def operator() -> Actor:
    """The person at the terminal, as the audit trail records them."""
    name = getpass.getuser()
    return Actor(kind=ActorKind.SYSTEM, id=f"cli:{name}", name=f"{name} (command line)")


def container_for(data_dir: Path | None, *, signing: bool = True) -> Container:
    """Build the system for this data directory (signing=False: to prove the audit trail only)."""
    return build(load_settings(data_dir=data_dir), signing=signing)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int | None, typer.Option(help="job threads inside the server (0: none)")] = None,
    demo: Annotated[bool, typer.Option(help="first run: simulate cameras and dock them")] = False,
) -> None:
    """Run the whole system: web UI, API, uploads and (by default) the job workers."""
    from witnessbox.dock.demo import load_demo
    from witnessbox.web.server import run_server

    settings = load_settings(data_dir=data_dir, workers=workers)
    if settings.storage_check_at_start and not _storage_conforms(settings):
        console.print("refusing to start: the evidence store failed the WORM check", style="bold red")
        raise typer.Exit(1)
    run_server(settings, host=host, port=port, on_start=load_demo if demo else None)


@app.command()
def worker(data_dir: DataDir = None, threads: Annotated[int, typer.Option(help="job threads")] = 2) -> None:
    """Run job consumers only (for machines that do media work)."""
    from huey.consumer import Consumer

    from witnessbox.core.logs import configure_logging
    from witnessbox.jobs.leases import LeaseKeeper

    container = container_for(data_dir)
    configure_logging(container.settings.log_format)  # job lines carry the job id (decision 0031)
    leases = LeaseKeeper(container.jobs).start()
    sealer = container.sealer.start()  # anchors checkpoints every N audit entries, as soon as they commit
    try:
        Consumer(container.huey, workers=threads, worker_type="thread", max_delay=POLL_S).run()
    finally:
        leases.stop()
        sealer.stop()


@app.command("nginx-config")
def nginx_config(
    data_dir: DataDir = None,
    upstream: Annotated[
        list[str] | None, typer.Option(help="host:port of an app instance (repeat for several)")
    ] = None,
    listen: Annotated[str, typer.Option(help="[address:]port nginx listens on")] = "443",
    server_name: Annotated[str, typer.Option(help="the site's name (nginx server_name)")] = "_",
    certificate: Annotated[Path | None, typer.Option(help="TLS certificate chain (PEM)")] = None,
    certificate_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
    plain_http: Annotated[bool, typer.Option(help="no TLS: loopback tests only")] = False,
    log_dir: Annotated[Path, typer.Option(help="where nginx writes its logs")] = Path("/var/log/nginx"),
) -> None:
    """Print an nginx configuration for this deployment's settings (docs/operations.md)."""
    from witnessbox.web.nginx import NginxOptions, nginx_config

    options = NginxOptions(
        upstreams=upstream or ["127.0.0.1:8000"], listen=listen, server_name=server_name,
        certificate=certificate, certificate_key=certificate_key, plain_http=plain_http, log_dir=log_dir,
    )
    try:
        typer.echo(nginx_config(load_settings(data_dir=data_dir), options), nl=False)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def dock(
    folders: Annotated[list[Path], typer.Argument(help="camera folders to upload from")],
    server: Annotated[str, typer.Option(help="server URL, e.g. http://127.0.0.1:8000")],
    token: Annotated[str, typer.Option(envvar="WITNESSBOX_DOCK_TOKEN", help="this dock's token")],
    watch: Annotated[bool, typer.Option(help="keep watching for new recordings")] = False,
    keep: Annotated[bool, typer.Option(help="do not wipe recordings after confirmation")] = False,
) -> None:
    """Upload every recording in the camera folders, confirm it by hash, then wipe it.

    Exit status: 0 all sent, 1 some recordings kept (each named with the reason), 2 the dock
    could not work at all (missing folder, token refused, server out of reach).
    """
    from witnessbox.dock.agent import DockAgent, DockStopped

    agent = DockAgent(server=server, token=token, wipe=not keep, console=console)
    try:
        failed = agent.run(folders, watch=watch)
    except DockStopped as stop:
        typer.echo(f"error: {stop}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(1 if failed else 0)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="folder to write camera folders into")],
    cameras_: Annotated[int, typer.Option("--cameras", help="number of cameras")] = 3,
    minutes: Annotated[float, typer.Option(help="length of each recording")] = 1.0,
    recordings: Annotated[int, typer.Option(help="recordings per camera")] = 1,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    bitrate: Annotated[int, typer.Option(help="video bits per second")] = 4_000_000,
    unique_seconds: Annotated[
        float | None,
        typer.Option(help="encode only this many seconds, repeat them to the length (fast, for benchmarks)"),
    ] = None,
    seed: int = 0,
    serial: Annotated[
        list[str] | None,
        typer.Option("--serial", help="serial of a camera to simulate; repeat (default WBX00001...)"),
    ] = None,
) -> None:
    """Write realistic camera output (H.264/AAC MP4 plus the camera's metadata file)."""
    from rich.progress import Progress

    from witnessbox.media.simulate import write_camera_folders

    with Progress(console=console) as progress:
        count = len(serial) if serial else cameras_
        task = progress.add_task("recordings", total=count * recordings)
        paths = write_camera_folders(
            out,
            cameras=count,
            serials=serial or None,
            minutes=minutes,
            recordings_per_camera=recordings,
            width=width,
            height=height,
            fps=fps,
            video_bitrate=bitrate,
            seed=seed,
            unique_seconds=unique_seconds,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"wrote {len(paths)} recordings under {out}")


Since = Annotated[
    datetime | None,
    typer.Option(
        "--since",
        "--from",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
        help="start of the issue, ISO 8601 with its offset, e.g. 2026-12-01T07:00:00+00:00 [default: now]",
    ),
]


@cameras.command("add")
def cameras_add(
    serial: str,
    model: Annotated[str, typer.Option(help="camera model")] = "",
    officer: Annotated[str | None, typer.Option(help="collar number of its officer")] = None,
    pool: Annotated[str | None, typer.Option(help="station whose pool the camera is in")] = None,
    since: Since = None,
    data_dir: DataDir = None,
) -> None:
    """Register a camera by serial number (issued to --officer, or in a station's --pool)."""
    camera = _run(
        lambda c: c.devices.register_camera(
            serial, model=model, officer=officer, pool=pool, since=since, actor=operator()
        ),
        data_dir,
    )
    console.print(f"camera {camera.serial} registered")


@cameras.command("list")
def cameras_list(data_dir: DataDir = None) -> None:
    """List registered cameras: who holds each now, pool or personal, last docked, recordings."""
    table = Table("serial", "model", "held by", "issue", "last docked (UTC)", "recordings")
    for camera in _run(lambda c: c.fleet.cameras(actor=operator()), data_dir):
        table.add_row(
            camera.serial,
            camera.model,
            camera.holder or "nobody",
            f"pool {camera.pool}" if camera.pool else "personal",
            _utc(camera.last_docked_at),
            str(camera.recordings),
        )
    console.print(table)


@cameras.command("assign")
def cameras_assign(
    serial: str,
    officer: Annotated[str, typer.Argument(help="collar number")],
    pool: Annotated[bool, typer.Option(help="a pool sign-out rather than a personal issue")] = False,
    since: Since = None,
    end_current: Annotated[
        bool, typer.Option(help="end the assignment of whoever holds the camera now (a reissue)")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Issue a camera to an officer from --since (default now); its recordings are attributed to them."""
    _run(
        lambda c: c.devices.assign(
            serial,
            officer,
            kind="pool" if pool else "personal",
            starts_at=since,
            end_current=end_current,
            actor=operator(),
        ),
        data_dir,
    )
    console.print(f"camera {serial} is now with {officer}")


@docks.command("revoke")
def docks_revoke(name: str, data_dir: DataDir = None) -> None:
    """Withdraw a dock's credential."""
    _run(lambda c: c.devices.revoke_dock(name, actor=operator()), data_dir)
    console.print(f"dock {name} revoked")


@users.command("add")
def users_add(
    collar_number: str,
    name: str,
    role: Annotated[list[Role], typer.Option("--role", help="repeat for several roles")],
    rank: str = "",
    email: str | None = None,
    team: Annotated[list[str] | None, typer.Option("--team", help="team the person is in")] = None,
    supervises: Annotated[list[str] | None, typer.Option(help="team the person supervises")] = None,
    data_dir: DataDir = None,
) -> None:
    """Add a person; their password is asked for (or set WITNESSBOX_NEW_PASSWORD)."""
    password = os.environ.get("WITNESSBOX_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    new = NewUser(
        collar_number=collar_number,
        name=name,
        roles=frozenset(role),
        rank=rank,
        email=email,
        password=password,
        teams=tuple(team or ()),
        supervises=tuple(supervises or ()),
    )
    user = _run(lambda c: c.users.create_user(new, actor=operator()), data_dir)
    console.print(f"added {user.display_name}")


@users.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List everyone with their roles and teams."""
    table = Table("collar", "name", "rank", "roles", "teams", "active")
    for user in _run(lambda c: c.users.list_users(actor=operator()), data_dir):
        teams_text = ", ".join(
            m.team.name + (" (supervises)" if m.supervises else "") for m in user.memberships
        )
        table.add_row(
            user.collar_number,
            user.name,
            user.rank,
            ", ".join(user.roles),
            teams_text,
            "yes" if user.active else "no",
        )
    console.print(table)


@users.command("roles")
def users_roles(
    collar_number: str, role: Annotated[list[Role], typer.Option("--role")], data_dir: DataDir = None
) -> None:
    """Replace a person's roles."""

    def change(c: Container) -> None:
        user = c.users.by_collar_number(collar_number)
        if user is None:
            raise typer.BadParameter(f"no user {collar_number}")
        c.users.set_roles(user.id, frozenset(role), actor=operator())

    _run(change, data_dir)
    console.print(f"{collar_number}: {', '.join(role)}")


@users.command("import")
def users_import(csv_file: Path, data_dir: DataDir = None) -> None:
    """Onboard many people from CSV: collar_number,name,rank,email,roles,teams,supervises,password."""
    from witnessbox.accounts.onboarding import import_users

    report = _run(
        lambda c: import_users(c.users, csv_file.read_text(encoding="utf-8-sig"), actor=operator()), data_dir
    )
    console.print(f"imported {report.created}, skipped {len(report.problems)}")
    for line, problem in report.problems:
        console.print(f"  line {line}: {problem}", style="yellow")
    if report.problems:
        raise typer.Exit(1)


@teams.command("add")
def teams_add(name: str, station: str = "", data_dir: DataDir = None) -> None:
    """Add a team or station."""
    _run(lambda c: c.users.create_team(name, station=station, actor=operator()), data_dir)
    console.print(f"team {name} added")


@docks.command("add")
def docks_add(
    name: str,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="serial of a camera it docks; repeat")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Register a dock for its cameras and print its token (shown only this once)."""
    dock_, token = _run(
        lambda c: c.devices.register_dock(name, cameras=camera or (), actor=operator()), data_dir
    )
    console.print(f"dock {dock_.name} registered; its token (store it now, it is not shown again):")
    print(token)


@docks.command("cameras")
def docks_cameras(
    name: str,
    serials: Annotated[list[str], typer.Argument(help="serials of the cameras it docks")],
    data_dir: DataDir = None,
) -> None:
    """Register a dock for more cameras: only then are its uploads of them those cameras' recordings."""
    _run(lambda c: c.devices.add_dock_cameras(name, serials, actor=operator()), data_dir)
    console.print(f"dock {name} docks {', '.join(serials)}")


@docks.command("list")
def docks_list(data_dir: DataDir = None) -> None:
    """List registered docks: when each was last seen, and whether it is revoked."""
    table = Table("name", "registered (UTC)", "last seen (UTC)", "revoked (UTC)")
    for dock_ in _run(lambda c: c.fleet.docks(actor=operator()), data_dir):
        table.add_row(
            dock_.name, _utc(dock_.created_at), _utc(dock_.last_seen_at), _utc(dock_.revoked_at, empty="")
        )
    console.print(table)


@audit.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Prove the chain, every checkpoint, time-stamp and anchor copy; exit 1 at the first broken entry."""
    result = _run(lambda c: c.anchoring.verify(), data_dir, signing=False)  # needs no private key
    for warning in result.warnings:
        console.print(f"warning: {warning}", style="yellow")
    if result.ok:
        console.print(f"OK: {result.entries} entries, {result.checkpoints} signed checkpoints intact")
        return
    assert result.broken is not None
    console.print(f"BROKEN at entry {result.broken.seq}: {result.broken.problem}", style="bold red")
    raise typer.Exit(1)


@retention.command("sweep")
def retention_sweep(data_dir: DataDir = None) -> None:
    """Run one retention sweep now (the worker runs it every retention_sweep_minutes): due dates, warnings,
    recycling, rescues of held items, purges with their certificates."""
    outcome = _run(lambda c: c.retention.sweep(), data_dir)
    console.print(", ".join(f"{name} {count}" for name, count in outcome.model_dump().items()))


@audit.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = None) -> None:
    """Sign the current head of the audit chain now, then time-stamp and anchor it where configured."""
    mark = _run(lambda c: c.audit.checkpoint(actor=operator()), data_dir)
    console.print(f"signed checkpoint at entry {mark.seq}" if mark else "audit trail is empty")
    run = _run(lambda c: c.anchoring.anchor_pending(), data_dir)
    console.print(f"time-stamped {run.stamped}, anchored {run.copied}")
    for failure in run.failures:
        console.print(f"warning: {failure}", style="yellow")


@audit.command("proof")
def audit_proof(
    seqs: Annotated[list[int], typer.Argument(help="the audit entries to prove")],
    data_dir: DataDir = None,
) -> None:
    """Print, as JSON, each entry's fields and its Merkle proof under the v2 checkpoint that sealed it, with
    every signing key: what an examiner checks without seeing any other entry. Exit 1 if one is unsealed."""
    proofs, keys = _run(lambda c: (c.audit.inclusion(seqs), c.audit.public_keys()), data_dir, signing=False)
    entries = [proofs[seq] for seq in seqs if seq in proofs]
    typer.echo(json.dumps({"entries": entries, "keys": keys}, indent=1))
    missing = [seq for seq in seqs if seq not in proofs]
    if missing:
        typer.echo(f"not yet sealed by a v2 checkpoint: {', '.join(map(str, missing))}", err=True)
        raise typer.Exit(1)


@audit.command("rotate-key")
def audit_rotate_key(
    new_key: Annotated[str | None, typer.Option(
        "--new-key", help="key file (created if missing) or pkcs11: URI; default: a new data-directory key"
    )] = None,
    data_dir: DataDir = None,
) -> None:
    """Seal with the key in use, then hand checkpoint signing over to a new key (audited, sealed again)."""
    settings = load_settings(data_dir=data_dir)
    if new_key is None and settings.audit_signing_key:
        console.print("error: name the new key with --new-key (the key in use lives apart)", style="bold red")
        raise typer.Exit(2)
    key_id = _run(lambda c: _rotate(c, new_key), data_dir)
    console.print(f"sealed with the old key; checkpoints are now signed by key {key_id}")
    if new_key:
        console.print(f"set WITNESSBOX_AUDIT_SIGNING_KEY={new_key} before the next start", style="yellow")


def _rotate(container: Container, new_key: str | None) -> str:
    """Hand signing over; the new key's id."""
    data_dir, person = container.settings.data_dir.resolve(), operator()

    def switch(signer: CheckpointSigner) -> None:
        container.audit.rotate_key(signer, actor=person)

    if new_key is None:
        return rotate_directory_key(data_dir / "keys", switch).key_id
    signer = new_signer(new_key, data_dir=data_dir)
    switch(signer)
    return signer.key_id


@db.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Migrate the database to the latest schema (serve does this itself)."""
    _run(lambda c: None, data_dir)
    console.print("database is at the latest schema")


@db.command("check")
def db_check(data_dir: DataDir = None) -> None:
    """Fail if the models have drifted from the migrations."""
    from witnessbox.db.migrate import check

    _run(lambda c: check(c.db.engine), data_dir)


@cameras.command("show")
def cameras_show(serial: str, data_dir: DataDir = None) -> None:
    """One camera and everyone who has held it, newest first."""
    detail = _run(lambda c: c.fleet.camera(serial, actor=operator()), data_dir)
    camera = detail.camera
    console.print(f"camera {camera.serial} {camera.model}".rstrip())
    console.print(f"  issue: {f'pool {camera.pool}' if camera.pool else 'personal'}")
    console.print(f"  held by: {camera.holder or 'nobody'}")
    console.print(f"  last docked: {_utc(camera.last_docked_at)}; recordings: {camera.recordings}")
    table = Table("officer", "how", "from (UTC)", "until (UTC)", "issued by")
    for spell in detail.history:
        table.add_row(
            spell.officer,
            spell.kind,
            _utc(spell.starts_at),
            _utc(spell.ends_at, empty="still issued"),
            spell.assigned_by,
        )
    console.print(table)


@docks.command("rotate")
def docks_rotate(name: str, data_dir: DataDir = None) -> None:
    """Give a dock a new token and stop its old one; print the new one (shown only this once)."""
    from witnessbox.devices.service import rotate_dock_token

    token = _run(lambda c: rotate_dock_token(c.devices, name, actor=operator()), data_dir)
    console.print(
        f"dock {name} has a new token (store it now, it is not shown again); the old one is revoked:"
    )
    print(token)


def _utc(moment: datetime | None, empty: str = "never") -> str:
    """A time for the terminal, in UTC to the second (the command line speaks UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else empty


def _run(action: Callable[[Container], T], data_dir: Path | None, *, signing: bool = True) -> T:
    container = container_for(data_dir, signing=signing)
    try:
        return action(container)
    except WitnessboxError as error:
        console.print(f"error: {error.reason}", style="bold red")
        raise typer.Exit(2) from error
    finally:
        container.close()


@app.command()
def verify(
    package: Annotated[Path, typer.Argument(help="the package ZIP, or its unpacked folder")],
    key: Annotated[
        list[Path] | None, typer.Option(help="a public key (PEM) the manifest must be signed by")
    ] = None,
    published: Annotated[
        list[Path] | None, typer.Option(help="a saved /.well-known/witnessbox/keys.json: trust only these")
    ] = None,
) -> None:
    """Check a disclosure package: hashes, signature, manifest and continuity statements.

    The same check as the package's own verify.py; exit 0 when all holds, 1 when anything is
    wrong, 2 when the package cannot be read. Needs no data directory.
    """
    from witnessbox.disclosure import verifier

    arguments = [str(package)] + [f"--key={path}" for path in key or []]
    arguments += [f"--published={path}" for path in published or []]
    raise typer.Exit(verifier.main(arguments))


# --- the integrity scrub (retention/scrub.py, decision 0024) -----------------------------------------

storage = typer.Typer(help="The evidence store: integrity scrub and reconciliation.", no_args_is_help=True)
app.add_typer(storage, name="storage")


@storage.command("scrub")
def storage_scrub(
    rate: Annotated[float | None, typer.Option(
        "--rate", help="re-read rate in MB/s; 0 for no limit [default: WITNESSBOX_SCRUB_RATE_MBPS]"
    )] = None,
    limit: Annotated[int | None, typer.Option(help="stop after re-reading this many objects", min=1)] = None,
    data_dir: DataDir = None,
) -> None:
    """Re-read and re-hash every stored object, then list the store for files no record names.

    Exit 0 when nothing is wrong, 1 when findings are open (listed), 2 when the scrub could not run.
    Nothing found is repaired or removed.
    """
    try:
        findings = _run(lambda c: _scrub_pass(c, rate, limit), data_dir)
    except (OSError, SQLAlchemyError) as error:
        console.print(f"error: the scrub could not run: {error}", style="bold red")
        raise typer.Exit(2) from error
    if findings:
        for f in findings:  # one line each, unwrapped, so scripts can read them
            item = f"item {f.item_id} ({f.item_name})" if f.item_id else "no item"
            typer.echo(f"{f.kind}: {item}, {f.what}, {f.key}: {f.detail}")
        console.print(f"{len(findings)} open finding(s); see /admin/storage", style="bold red")
        raise typer.Exit(1)
    console.print("no open findings: every recorded object is whole and every stored object recorded")


@storage.command("check")
def storage_check(data_dir: DataDir = None) -> None:
    """Prove the evidence store is WORM: write a probe under COMPLIANCE, then try to delete it, overwrite
    it, shorten or downgrade its lock, bypass governance, and delete under a legal hold.

    Every attempt must be refused by the store itself. Exit 0 when all pass, 1 on any failure
    (a store without Object Lock, or a plain local store, fails).
    """
    if not _storage_conforms(load_settings(data_dir=data_dir)):
        raise typer.Exit(1)


def _storage_conforms(settings: Settings) -> bool:
    """Run the WORM check against the configured store, printing each check; True when all pass."""
    from witnessbox.bootstrap import blob_store
    from witnessbox.storage.worm import check_store

    checks = check_store(blob_store(settings))
    for check in checks:
        typer.echo(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    passed = all(check.passed for check in checks)
    if passed:
        console.print("the evidence store is WORM: every attempt to erase or weaken a lock was refused")
    return passed


def _scrub_pass(container: Container, rate: float | None, limit: int | None) -> list[ScrubFinding]:
    """One whole pass with a progress bar over the bytes to re-read; the open findings after it."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("re-reading", total=None)
        done = container.scrub.run_pass(
            rate_mbps=rate, limit=limit, progress=lambda n, total: bar.update(task, completed=n, total=total)
        )
    seconds = max(done.read_seconds, 1e-9)
    console.print(
        f"{'whole pass' if done.complete else 'partial pass (--limit)'}: "
        f"{done.objects_checked} objects re-read "
        f"({done.bytes_read / 1e6:.1f} MB at {done.bytes_read / 1e6 / seconds:.1f} MB/s), "
        f"{done.objects_listed} stored objects listed"
    )
    return container.scrub.findings(actor=operator())
