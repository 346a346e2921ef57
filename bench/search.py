"""Search benchmark: typical searches over --items recordings, through the API and straight in the database.

For each database (a SQLite file, and PostgreSQL at --pg unless --no-pg) it

* seeds --items recordings (default 1,000,000) with bulk inserts: 40 teams of 35 officers,
  two years of recordings by a day/night pattern, ~70% non-evidential, ~20% evidential with
  an offence category, incident number and crime reference, the rest uncategorised, GPS
  tracks of a few points around towns of a county, camera bookmarks on some, a few cases.
  The words (`item_text`) go in with the rows; the full-text index follows them (FTS5
  triggers; PostgreSQL's generated tsvector, its GIN index built after the load); then the
  planner's statistics, as a running system would have them (SQLite ANALYZE and PRAGMA
  optimize; PostgreSQL VACUUM ANALYZE, as autovacuum would do after such a load);
* starts a real `witnessbox serve` on loopback and runs eleven typical searches through
  GET /api/v1/search with an API token (an investigator, an officer, a supervisor): warm-up,
  then --runs of each, interleaved with the very statement the API runs
  (`SearchService.statement`) executed directly on the database from this process;
* times the library page (GET / with a browser session, wall time on loopback) the same way.

It prints p50/p95 per search for the API and the direct query, their ratio, and whether the
targets hold: API p95 < 100 ms, API p95 < 2x the direct query's, library page p95 < 200 ms.
Run: `python bench/search.py [--items 1000000] [--runs 20] [--no-pg] [--no-sqlite]`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import (
    clean_env,
    clear_status,
    free_port,
    load_average,
    median,
    percentile,
    status,
    stop_process,
    temp_dir,
    wait_http,
)
from sqlalchemy import Engine, create_engine, text

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "Quartz-lantern-7391-river"
END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86400
TEAMS, OFFICERS_PER_TEAM = 40, 35
# Towns of a county (Devon) and how much of the footage each sees.
TOWNS = [
    ((50.7236, -3.5275), 30),
    ((50.3755, -4.1427), 35),
    ((50.4619, -3.5253), 10),
    ((51.0809, -4.0583), 6),
    ((50.6178, -3.4135), 5),
    ((50.9020, -3.4920), 4),
    ((50.5462, -3.4940), 5),
    ((51.0147, -4.2099), 5),
]
# Recordings per hour of day: busy evenings and nights, quiet early mornings.
HOURLY = [6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 7, 8, 9, 10, 10, 10, 9, 8]
STREETS = [
    "High Street",
    "Fore Street",
    "Station Road",
    "Elm Road",
    "Queen Street",
    "Union Street",
    "Mayflower Street",
    "Sidwell Street",
    "Cathedral Green",
    "Harbour Road",
    "Mill Lane",
    "Church Road",
    "Park Avenue",
    "Victoria Road",
    "Market Square",
    "Castle Street",
]
WHAT = [
    "disturbance",
    "assault",
    "theft",
    "shoplifting",
    "collision",
    "search",
    "arrest",
    "dispute",
    "concern for welfare",
    "criminal damage",
    "drunk and disorderly",
    "vehicle stop",
    "knife",
    "drugs found",
    "breach of the peace",
    "domestic incident",
    "missing person",
    "burglary",
]
LABELS = [
    "suspect detained",
    "weapon seen",
    "caution given",
    "victim account",
    "witness details",
    "vehicle registration",
    "injury visible",
    "property recovered",
    "first account",
    "handcuffs applied",
]
NOTES = [
    "Victim gave first account on scene.",
    "Suspect made no comment.",
    "Witness left details.",
    "CCTV requested from the premises.",
    "Suspect arrested and conveyed to custody.",
    "Officer used force: handcuffs.",
    "Injuries photographed.",
    "Property seized and bagged.",
]
# The category mix of evidential footage (the force's list, from Settings, weighted).
CATEGORY_WEIGHTS = [14, 12, 8, 10, 9, 16, 12, 7, 6, 2, 3, 1]
ITEM_COLUMNS = (
    "id",
    "sha256",
    "hash_algorithm",
    "size",
    "filename",
    "camera_serial",
    "officer_id",
    "officer",
    "team_id",
    "restricted",
    "recorded_start",
    "recorded_end",
    "upload_started_at",
    "uploaded_at",
    "verified_at",
    "state",
    "duration_s",
    "has_audio",
    "container",
    "video_codec",
    "width",
    "height",
    "fps",
    "gps_track",
    "bookmarks",
    "bookmark_count",
    "evidential",
    "category",
    "incident_number",
    "crime_reference",
    "title",
    "notes",
    "categorised_at",
    "categorised_by",
)
DATETIMES = {
    ITEM_COLUMNS.index(name)
    for name in (
        "recorded_start",
        "recorded_end",
        "upload_started_at",
        "uploaded_at",
        "verified_at",
        "categorised_at",
    )
}
JSONS = {ITEM_COLUMNS.index("gps_track"), ITEM_COLUMNS.index("bookmarks")}
BOOLS = {ITEM_COLUMNS.index(name) for name in ("restricted", "has_audio", "evidential")}
CHUNK = 20_000


def words_of(*parts: str | None) -> str:
    """The body the application would index (witnessbox.evidence.search.words)."""
    from witnessbox.evidence.search import words

    return " ".join(words(" ".join(part for part in parts if part)))


# --------------------------------------------------------------------------
# The force and its recordings
# --------------------------------------------------------------------------


@dataclass
class Force:
    """Who is in the seeded force, and the personas the searches run as."""

    teams: list[str]  # team ids
    officers: list[tuple[str, str, str]]  # (user id, display name, team id)
    investigator: str  # collar numbers of the personas
    officer: str
    supervisor: str
    supervised_team: str


def seed_force(url: str, data_dir: Path) -> Force:
    """Teams and personas through the services (passwords, audit), the other officers in bulk."""
    from witnessbox.accounts.roles import Role
    from witnessbox.accounts.service import NewUser
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.core.actor import SYSTEM
    from witnessbox.core.ids import new_id

    container = build(
        load_settings(data_dir=data_dir, database_url=url, queue_url=f"sqlite:///{data_dir / 'queue.db'}")
    )
    try:
        teams = [container.users.create_team(f"Response {n:02d}", actor=SYSTEM) for n in range(TEAMS)]
        people = [
            ("BI1", "Dana Reid", Role.INVESTIGATOR, (), ()),
            ("BO1", "Alex Morgan", Role.OFFICER, (teams[0].name,), ()),
            ("BS1", "Chris Evans", Role.SUPERVISOR, (), (teams[0].name,)),
        ]
        made = {}
        for collar, name, role, member_of, supervises in people:
            made[collar] = container.users.create_user(
                NewUser(
                    collar, name, frozenset({role}), password=PASSWORD, teams=member_of, supervises=supervises
                ),
                actor=SYSTEM,
            )
        officers = [(made["BO1"].id, made["BO1"].display_name, teams[0].id)]
        now = datetime.now(UTC)
        users, members = [], []
        for n in range(1, TEAMS * OFFICERS_PER_TEAM):
            team = teams[n % TEAMS]
            user_id, collar = new_id(), f"{10000 + n}"
            users.append(
                {
                    "id": user_id,
                    "collar_number": collar,
                    "name": f"Officer {n}",
                    "rank": "PC",
                    "roles": ["officer"],
                    "active": True,
                    "created_at": now,
                }
            )
            members.append({"id": new_id(), "team_id": team.id, "user_id": user_id, "supervises": False})
            officers.append((user_id, f"PC {collar} Officer {n}", team.id))
        from witnessbox.accounts.models import TeamMember, User

        with container.db.transaction() as uow:
            uow.session.execute(User.__table__.insert(), users)
            uow.session.execute(TeamMember.__table__.insert(), members)
    finally:
        container.close()
    return Force([t.id for t in teams], officers, "BI1", "BO1", "BS1", teams[0].id)


def _when(rng: random.Random) -> datetime:
    day = rng.random() ** 0.8 * SPAN_S // 86400  # a little more footage lately
    hour = rng.choices(range(24), HOURLY)[0]
    return END - timedelta(days=day) + timedelta(hours=hour - 24, seconds=rng.randrange(3600))


def _track(rng: random.Random) -> list[dict[str, float]]:
    (lat, lon), _ = rng.choices(TOWNS, [w for _, w in TOWNS])[0]
    lat, lon = lat + rng.gauss(0, 0.02), lon + rng.gauss(0, 0.03)
    points = []
    for second in range(0, rng.randint(2, 6) * 30, 30):
        points.append({"t": second, "lat": round(lat, 6), "lon": round(lon, 6)})
        lat, lon = lat + rng.gauss(0, 0.0005), lon + rng.gauss(0, 0.0007)
    return points


@dataclass
class Seeded:
    """What the searches need to know of the seeded recordings."""

    incident: str
    crime: str
    oldest: datetime
    categories: list[str]


def recordings(count: int, force: Force, categories: list[str], seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """(items row, item_text body, places as (lat, lon, cell)) per recording, oldest first."""
    from witnessbox.evidence.search import cell_of, thinned

    rng = random.Random(seed)
    times = sorted(_when(rng) for _ in range(count))
    persona_share = 0.0005  # the officer persona records about as much as anyone
    for n, start in enumerate(times):
        officer_id, name, team = (
            force.officers[0]
            if rng.random() < persona_share
            else force.officers[rng.randrange(len(force.officers))]
        )
        duration = round(min(3600.0, rng.lognormvariate(5.3, 0.9)), 1)
        end = start + timedelta(seconds=duration)
        uploaded = end + timedelta(hours=rng.uniform(1, 14))
        age_days = (END - start).days
        roll = rng.random()
        evidential = None if roll < (0.5 if age_days < 14 else 0.08) else roll < 0.3
        category = incident = crime = title = notes = None
        categorised = None
        if evidential is not None:
            categorised = uploaded + timedelta(days=rng.uniform(0, 5))
            title = f"{rng.choice(WHAT).capitalize()} on {rng.choice(STREETS)}"
        if evidential:
            category = rng.choices(categories, CATEGORY_WEIGHTS[: len(categories)])[0]
            incident = f"{start:%y}/{rng.randrange(1000, 9_999_999)}"
            crime = f"{rng.choice(['DV', 'CR', 'AS', 'TH'])}/{rng.randrange(100, 9_999_999):05d}/{start:%y}"
            notes = rng.choice(NOTES) if rng.random() < 0.6 else None
        marks = (
            [
                {"t": round(rng.uniform(0, duration), 1), "label": rng.choice(LABELS)}
                for _ in range(rng.randint(1, 2))
            ]
            if rng.random() < 0.15
            else None
        )
        track = _track(rng) if rng.random() < 0.9 else None
        item_id = f"{int(start.timestamp() * 1000):012x}{n:014x}"
        row = (
            item_id,
            f"{n:064x}",
            "sha256",
            int(duration * 1_000_000),
            f"{item_id}.mp4",
            f"WBX{n % 2000:05d}",
            officer_id,
            name,
            team,
            rng.random() < 0.001,
            start,
            end,
            uploaded - timedelta(minutes=5),
            uploaded,
            uploaded,
            "ready",
            duration,
            True,
            "mp4",
            "h264",
            1920,
            1080,
            25.0,
            track,
            marks,
            len(marks or []),
            evidential,
            category,
            incident,
            crime,
            title,
            notes,
            categorised,
            "PC Bench" if categorised else None,
        )
        labels = " ".join(mark["label"] for mark in marks or [])
        body = words_of(title, notes, incident, crime, category, labels)
        yield row, body, [(lat, lon, cell_of(lat, lon)) for lat, lon in thinned(track)]


# --------------------------------------------------------------------------
# Bulk loading, per database
# --------------------------------------------------------------------------


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """As SQLAlchemy stores them on SQLite: naive UTC text times, JSON text, 0/1."""
    out = list(row)
    for i in DATETIMES:
        out[i] = out[i].strftime("%Y-%m-%d %H:%M:%S.%f") if out[i] is not None else None
    for i in JSONS:
        out[i] = json.dumps(out[i]) if out[i] is not None else None
    return tuple(out)


def load_sqlite(engine: Engine, rows: Iterator[tuple[Any, ...]], total: int) -> None:
    """executemany in chunks; the FTS5 triggers index item_text as it goes."""
    marks = ",".join("?" * len(ITEM_COLUMNS))
    done = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for chunk in _chunks(rows, CHUNK):
            first_text_id = done + 1
            cursor.executemany(
                f"INSERT INTO items ({','.join(ITEM_COLUMNS)}) VALUES ({marks})",
                [_sqlite_row(item) for item, _, _ in chunk],
            )
            cursor.executemany(
                "INSERT INTO item_text (id, item_id, body) VALUES (?, ?, ?)",
                [(first_text_id + k, item[0], body) for k, (item, body, _) in enumerate(chunk)],
            )
            cursor.executemany(
                "INSERT INTO item_places (item_id, lat, lon, cell) VALUES (?, ?, ?, ?)",
                [(item[0], *place) for item, _, places in chunk for place in places],
            )
            raw.commit()
            done += len(chunk)
            status(f"sqlite: {done:,}/{total:,} recordings")
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA optimize")
        raw.commit()
    finally:
        raw.close()


def _copy_text(value: Any, index: int) -> Any:
    if value is None:
        return None
    if index in JSONS:
        return json.dumps(value)
    return value


def load_postgresql(engine: Engine, rows: Iterator[tuple[Any, ...]], total: int) -> None:
    """COPY in chunks; the GIN index on the words is dropped for the load and built after it; then
    VACUUM ANALYZE."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP INDEX ix_item_text_document")
        done = 0
        for chunk in _chunks(rows, CHUNK):
            with cursor.copy(f"COPY items ({','.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for item, _, _ in chunk:
                    copy.write_row([_copy_text(value, i) for i, value in enumerate(item)])
            with cursor.copy("COPY item_text (item_id, body) FROM STDIN") as copy:
                for item, body, _ in chunk:
                    copy.write_row((item[0], body))
            with cursor.copy("COPY item_places (item_id, lat, lon, cell) FROM STDIN") as copy:
                for item, _, places in chunk:
                    for place in places:
                        copy.write_row((item[0], *place))
            raw.commit()
            done += len(chunk)
            status(f"postgresql: {done:,}/{total:,} recordings")
        status("postgresql: building the full-text index")
        cursor.execute("CREATE INDEX ix_item_text_document ON item_text USING gin (document)")
        raw.commit()
        # What autovacuum does soon after such a load anyway: statistics for the planner, and
        # the visibility map that lets the place grid's covering index answer on its own.
        status("postgresql: vacuum analyze")
        connection = raw.dbapi_connection
        assert connection is not None
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")
        connection.autocommit = False
    finally:
        raw.close()


def seed_cases(url: str, data_dir: Path, force: Force) -> None:
    """A few investigations of a hundred evidential recordings each, opened by the investigator."""
    from witnessbox.accounts.service import actor_for
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings

    container = build(
        load_settings(data_dir=data_dir, database_url=url, queue_url=f"sqlite:///{data_dir / 'queue.db'}")
    )
    try:
        user = container.users.by_collar_number(force.investigator)
        assert user is not None
        investigator = actor_for(user)
        with container.db.read() as session:
            ids = list(session.scalars(text("SELECT id FROM items WHERE evidential ORDER BY id LIMIT 300")))
        for n in range(3):
            case = container.cases.create(f"OP-{n}", f"Operation {n}", actor=investigator)
            container.cases.add_items(
                case.id, ids[n * 100 : (n + 1) * 100], actor=investigator, reason="benchmark investigation"
            )
    finally:
        container.close()


# --------------------------------------------------------------------------
# A server on the seeded database, and the measurements
# --------------------------------------------------------------------------


@contextmanager
def serve(url: str, data_dir: Path) -> Iterator[str]:
    """`python -m witnessbox serve` on loopback over the seeded database."""
    port = free_port()
    env = clean_env()
    env.update(
        {
            "WITNESSBOX_DATA_DIR": str(data_dir),
            "WITNESSBOX_DATABASE_URL": url,
            "WITNESSBOX_QUEUE_URL": f"sqlite:///{data_dir / 'queue.db'}",
            "WITNESSBOX_STORAGE_URL": (data_dir / "blobs").as_uri(),
            "WITNESSBOX_ADMIN_PASSWORD": PASSWORD,
            "WITNESSBOX_WORKERS": "1",
        }
    )
    log = data_dir / "server.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "witnessbox", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log, timeout_s=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


@dataclass(frozen=True)
class Search:
    """One typical search: who runs it and its query string."""

    name: str
    persona: str
    query: dict[str, str]


def searches(force: Force, seeded: Seeded) -> list[Search]:
    """The ten searches people run most, and relevance order."""
    from witnessbox.evidence.search import Cursor, Sort

    month = seeded.oldest + timedelta(days=400)
    deep = Cursor(Sort.RECORDED, seeded.oldest + timedelta(days=365), "f" * 26).encode()  # ~half way down
    exeter = TOWNS[0][0]
    return [
        Search("newest, investigator", force.investigator, {}),
        Search("officer's own", force.officer, {}),
        Search("team, supervisor", force.supervisor, {"team": force.supervised_team}),
        Search(
            "month + category",
            force.investigator,
            {
                "from": month.date().isoformat(),
                "to": (month + timedelta(days=30)).date().isoformat(),
                "category": seeded.categories[0],
            },
        ),
        Search("evidential uncategorised", force.investigator, {"evidential": "uncategorised"}),
        Search("incident number", force.investigator, {"incident": seeded.incident}),
        Search("crime reference", force.investigator, {"crime": seeded.crime}),
        Search("free text", force.investigator, {"q": "knife elm"}),
        Search("free text, relevance", force.investigator, {"q": "weapon seen", "sort": "relevance"}),
        Search("place, 300 m radius", force.investigator, {"near": f"{exeter[0]},{exeter[1]},300"}),
        Search("deep page (cursor)", force.investigator, {"after": deep}),
    ]


def find_seeded(engine: Engine, categories: list[str]) -> Seeded:
    """An incident number and a crime reference that exist, and the oldest recording's time."""
    from sqlalchemy import select

    from witnessbox.evidence.models import Item

    with engine.connect() as connection:
        incident, crime = connection.execute(
            select(Item.incident_number, Item.crime_reference)
            .where(Item.incident_number.is_not(None))
            .order_by(Item.id)
            .limit(1)
            .offset(100)
        ).one()
        oldest = connection.execute(
            select(Item.recorded_start).order_by(Item.recorded_start).limit(1)
        ).scalar_one()
    return Seeded(incident, crime, oldest, categories)


def timed(call: Callable[[], Any]) -> float:
    """Milliseconds one call took."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


@dataclass
class Figures:
    """p50/p95 in ms of the API and of the direct query, and the page size seen."""

    name: str
    api: list[float]
    direct: list[float]
    found: int

    def row(self) -> str:
        """One line of the table."""
        api95, direct95 = percentile(self.api, 0.95), percentile(self.direct, 0.95)
        ratio = api95 / direct95 if direct95 else math.inf
        return (
            f"  {self.name:<26} {self.found:>5} {median(self.api):>8.1f} {api95:>8.1f} "
            f"{median(self.direct):>8.1f} {direct95:>8.1f} {ratio:>6.2f}  "
            f"{_yes(api95 < 100):>6} {_yes(ratio < 2):>4}"
        )

    @property
    def met(self) -> bool:
        """Both targets: API p95 under 100 ms and under twice the direct query's."""
        api95, direct95 = percentile(self.api, 0.95), percentile(self.direct, 0.95)
        return api95 < 100 and api95 < 2 * direct95


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def measure(
    base: str, url: str, force: Force, seeded: Seeded, runs: int
) -> tuple[list[Figures], list[float]]:
    """Every search through the API and directly, interleaved; then the library page."""
    from witnessbox.accounts.service import actor_for
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.evidence.search import Filters

    with temp_dir("wbx-search-") as scratch:
        container = build(
            load_settings(data_dir=scratch, database_url=url, queue_url=f"sqlite:///{scratch / 'queue.db'}")
        )
        try:
            actors, tokens = {}, {}
            for collar in (force.investigator, force.officer, force.supervisor):
                user = container.users.by_collar_number(collar)
                assert user is not None
                actors[collar] = actor_for(user)
                tokens[collar] = container.tokens.issue_user_token("bench", actor=actors[collar])[1]
            results = []
            with httpx.Client(base_url=base, timeout=60) as client:
                for search in searches(force, seeded):
                    status(f"measuring: {search.name}")
                    query = {k: v for k, v in search.query.items() if k != "after"}
                    statement = container.search.statement(
                        actors[search.persona],
                        Filters.from_query(query),
                        after=search.query.get("after"),
                        limit=50,
                    )
                    headers = {"Authorization": f"Bearer {tokens[search.persona]}"}

                    def api(search: Search = search, headers: dict[str, str] = headers) -> int:
                        response = client.get("/api/v1/search", params=search.query, headers=headers)
                        response.raise_for_status()
                        return len(response.json()["items"])

                    def direct(statement: Any = statement) -> None:
                        with container.db.engine.connect() as connection:
                            connection.execute(statement).all()

                    found = api()
                    for _ in range(3):
                        api()
                        direct()
                    api_ms, direct_ms = [], []
                    for _ in range(runs):
                        api_ms.append(timed(api))
                        direct_ms.append(timed(direct))
                    results.append(Figures(search.name, api_ms, direct_ms, found))
                page_ms = library_page(client, force)
        finally:
            container.close()
    return results, page_ms


def library_page(client: httpx.Client, force: Force, runs: int = 20) -> list[float]:
    """Wall time of GET / for a signed-in investigator (loopback: the server's time, near enough)."""
    signed_in = client.post("/login", data={"username": force.investigator, "password": PASSWORD})
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in failed: {signed_in.status_code} {signed_in.text[:200]}")
    for _ in range(3):
        client.get("/").raise_for_status()
    return [timed(lambda: client.get("/").raise_for_status()) for _ in range(runs)]


def report(database: str, items: int, seed_s: float, figures: list[Figures], page_ms: list[float]) -> None:
    """The table for one database."""
    print(f"\n{database}: {items:,} recordings, seeded in {seed_s:.0f} s; load average {load_average():.2f}")
    print(
        f"  {'search (page of 50)':<26} {'shown':>5} {'API p50':>8} {'API p95':>8} {'DB p50':>8} "
        f"{'DB p95':>8} {'p95 x':>6}  {'<100ms':>6} {'<2x':>4}"
    )
    for figure in figures:
        print(figure.row())
    page95 = percentile(page_ms, 0.95)
    print(
        f"  library page GET /: p50 {median(page_ms):.1f} ms, p95 {page95:.1f} ms "
        f"(target < 200 ms: {'yes' if page95 < 200 else 'NO'})"
    )
    met = sum(1 for f in figures if f.met)
    print(f"  searches meeting both targets: {met}/{len(figures)}")


def run(
    database: str,
    url: str,
    data_dir: Path,
    items: int,
    runs: int,
    load: Callable[[Engine, Iterator[tuple[Any, ...]], int], None],
) -> None:
    """Seed, serve, measure, print, for one database."""
    from witnessbox.config import Settings

    categories = list(Settings().offence_categories)
    start = time.perf_counter()
    force = seed_force(url, data_dir)
    engine = create_engine(url)
    try:
        load(engine, recordings(items, force, categories), items)
        seed_cases(url, data_dir, force)
        seeded = find_seeded(engine, categories)
    finally:
        engine.dispose()
    seed_s = time.perf_counter() - start
    with serve(url, data_dir) as base:
        figures, page_ms = measure(base, url, force, seeded, runs)
    clear_status()
    report(database, items, seed_s, figures, page_ms)


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A database of our own on the PostgreSQL server, dropped afterwards."""
    name = f"wbx_bench_search_{random.randrange(16**8):08x}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main() -> None:
    """Parse arguments and run on each database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--pg", default=PG_ADMIN_URL, help="PostgreSQL server (a bench database is made there)"
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"search benchmark: {args.items:,} recordings, {args.runs} runs per search after 3 warm-up runs; "
        f"load average {load_average():.2f}"
    )
    if not args.no_sqlite:
        with temp_dir("wbx-search-sqlite-") as data_dir:
            run(
                "SQLite",
                f"sqlite:///{data_dir / 'witnessbox.db'}",
                data_dir,
                args.items,
                args.runs,
                load_sqlite,
            )
    if not args.no_pg:
        with temp_dir("wbx-search-pg-") as data_dir, pg_database(args.pg) as url:
            run("PostgreSQL", url, data_dir, args.items, args.runs, load_postgresql)


if __name__ == "__main__":
    main()
