"""The library page: search with filters, results with thumbnails, bulk actions, saved searches.

The page's form speaks the search's own query-string names (see `Filters`), except where a
person types better in pieces: a place as separate numbers, a duration as minutes:seconds.
`search_params` joins those pieces back, so a shared page URL, a saved search and the API
all describe a search the same way.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with
from witnessbox.accounts.roles import Role
from witnessbox.core.actor import Actor
from witnessbox.core.errors import InvalidInput, NotFound
from witnessbox.core.urls import local_target
from witnessbox.evidence.routes._shared import Caller, templates
from witnessbox.evidence.search import Filters, Page, SearchService

pages = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50
PAGE_ONLY = frozenset({"after", "saved"})  # about this page view, not about the search
# A place typed in pieces: the search's name -> the form's fields, in the search's order.
PLACES = {
    "near": ("near_lat", "near_lon", "near_radius"),
    "box": ("box_south", "box_west", "box_north", "box_east"),
}
PLACE_WORDS = {"near": "latitude, longitude and radius", "box": "south, west, north and east"}
DURATIONS = {"min_duration": "shortest", "max_duration": "longest"}
CLOCK = re.compile(r"(\d+):([0-5]?\d(?:\.\d+)?)")


search_service = built_with("search", SearchService)


def search_params(params: Mapping[str, str], zone: tzinfo = UTC) -> dict[str, str]:
    """The search's query-string names from the page's: blanks dropped, places joined, seconds,
    and a time typed without a zone read in the force's `zone`."""
    given = {name: value.strip() for name, value in params.items() if value.strip() and name not in PAGE_ONLY}
    for name, parts in PLACES.items():
        pieces = [given.pop(part, "") for part in parts]
        if any(pieces):
            if not all(pieces):
                raise InvalidInput(f"place: give all of {PLACE_WORDS[name]}")
            given[name] = ",".join(pieces)
    for name, word in DURATIONS.items():
        if name in given:
            given[name] = _seconds(given[name], word)
    for name in ("from", "to"):
        if name in given:
            given[name] = _zoned(given[name], zone)
    return given


def _zoned(text: str, zone: tzinfo) -> str:
    """A date and time without a zone (as a datetime-local field sends it) as a time in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the search says what is wrong with it
    if moment.tzinfo is not None or "T" not in text:
        return text
    return moment.replace(tzinfo=zone).isoformat()


def form_values(params: Mapping[str, str], zone: tzinfo = UTC) -> dict[str, str]:
    """What the form's fields show for a query string, in the page's names (a place split again)."""
    values = {name: value for name, value in params.items() if name not in PAGE_ONLY}
    for name, parts in PLACES.items():
        joined = values.pop(name, "")
        if joined and not any(values.get(part) for part in parts):
            values.update(zip(parts, joined.split(","), strict=False))
    for name in ("from", "to"):
        if name in values:
            values[name] = _local_time(values[name], zone)
    for name in DURATIONS:
        if name in values:
            values[name] = _clock(values[name])
    return values


def _seconds(text: str, word: str) -> str:
    """'1:30' as '90'; plain seconds as they are (the search checks them)."""
    if ":" not in text:
        return text
    if not (match := CLOCK.fullmatch(text)):
        raise InvalidInput(f"{word} duration: give seconds or minutes:seconds, such as 1:30")
    return f"{int(match[1]) * 60 + float(match[2]):g}"


def _clock(seconds: str) -> str:
    """Whole seconds as minutes:seconds, for the form; anything else as typed."""
    try:
        value = float(seconds)
    except ValueError:
        return seconds
    return f"{int(value) // 60}:{int(value) % 60:02d}" if value.is_integer() and value >= 0 else seconds


def _local_time(text: str, zone: tzinfo) -> str:
    """An ISO 8601 time as a datetime-local field shows it, in the force's zone; else as typed."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else "%Y-%m-%dT%H:%M:%S")


def _zone(request: Request) -> tzinfo:
    zone: tzinfo = request.app.state.local_time.zone
    return zone


def _cases(request: Request, actor: Actor) -> list[Any]:
    """The cases the actor works, to add items to (none where cases cannot list them)."""
    cases_for = getattr(request.app.state.cases, "cases_for", None)
    return list(cases_for(actor)) if cases_for else []


def _address(params: Mapping[str, str]) -> str:
    """Where this page view is, for forms that come back to it (without a one-off notice)."""
    kept = [(name, value) for name, value in params.items() if name != "saved"]
    return f"/?{urlencode(kept)}" if kept else "/"


def render(
    request: Request, actor: Actor, params: Mapping[str, str], *, error: str | None = None
) -> Response:
    """The page for one query string: the search's results, and what is wrong (422) with it or with
    the form that brought the person back here (`error`)."""
    search = search_service(request)
    results, query = Page([], None), None
    try:
        filters = Filters.from_query(search_params(params, _zone(request)))
        results = search.search(actor, filters, after=params.get("after") or None, limit=PAGE_SIZE)
        query = urlencode(filters.to_query())
    except (InvalidInput, NotFound) as bad:  # NotFound: a case the person does not work on
        error = error or bad.reason
    context = {
        "actor": actor,
        "form": form_values(params, _zone(request)),
        "error": error,
        "saved_as": params.get("saved"),
        "results": results,
        "paged": bool(params.get("after")),
        "query": query,
        "teams": request.app.state.users.list_teams(),
        "categories": request.app.state.categorise.rules.categories,
        "cases": _cases(request, actor),
        "saved": search.saved(actor),
        "here": _address(params),
    }
    return templates(request).TemplateResponse(
        request, "evidence/library.html", context, status_code=422 if error else 200
    )


@pages.get("/", response_class=HTMLResponse)
def library(request: Request, actor: Caller) -> Response:
    """Every recording the person may see that matches the filters, newest or best match first.

    A system administrator and nothing else sees no footage (only quarantined files, which a
    search still lists): the bare address takes them to their home, the system's state.
    """
    if actor.roles == {Role.SYSTEM_ADMINISTRATOR} and not request.query_params:
        return RedirectResponse("/admin", status_code=303)
    return render(request, actor, request.query_params)


@pages.post("/searches")
def save_search(
    request: Request, actor: Caller, name: Annotated[str, Form()] = "", query: Annotated[str, Form()] = ""
) -> Response:
    """Keep the search on the page under a name, then show it again."""
    params = dict(parse_qsl(query))
    try:
        filters = Filters.from_query(search_params(params, _zone(request)))
        kept = search_service(request).save(actor, name, filters)
    except InvalidInput as bad:
        return render(request, actor, params, error=bad.reason)
    return RedirectResponse("/?" + urlencode({**filters.to_query(), "saved": kept.name}), status_code=303)


@pages.post("/searches/{saved_id}/delete")
def delete_search(
    saved_id: str, request: Request, actor: Caller, back: Annotated[str, Form()] = "/"
) -> Response:
    """Forget one of the person's saved searches."""
    search_service(request).delete_saved(actor, saved_id)
    return RedirectResponse(local_target(back), status_code=303)
