"""Search API and saved searches API."""

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with
from witnessbox.evidence.models import SavedSearch
from witnessbox.evidence.routes._shared import API, Caller
from witnessbox.evidence.schemas import ItemOut, SavedSearchIn, SavedSearchOut, SearchOut
from witnessbox.evidence.search import MAX_LIMIT, Filters, SearchService

api = APIRouter(prefix="/api/v1", tags=["search"])


search_service = built_with("search", SearchService)


Search = Annotated[SearchService, Depends(search_service)]


@api.get("/search", response_model=SearchOut)
def search(
    request: Request,
    actor: Caller,
    service: Search,
    after: Annotated[str | None, Query(
        description="the `next` cursor of the previous page (404 for one this search did not give)",
        pattern=r"^[A-Za-z0-9_-]+$",
    )] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> SearchOut:
    """Items you may see that match, newest first or best match first, one page at a time.

    Filters (all optional, combined with AND): q (words, each matched as a prefix, over titles,
    notes, references, categories and bookmark labels), officer (collar number), team (id),
    camera (serial), from and to (ISO 8601; `to` is exclusive, a date alone covers its day),
    category, evidential (yes, no or uncategorised), incident, crime, case (id), bookmarked (1),
    min_duration and max_duration (seconds), near (lat,lon,metres), box (south,west,north,east),
    sort (recorded or relevance).
    """
    page = service.search(actor, Filters.from_query(request.query_params), after=after, limit=limit)
    return SearchOut(items=[ItemOut.of(item, API) for item in page.items], next=page.next)


def _out(saved: SavedSearch) -> SavedSearchOut:
    return SavedSearchOut(id=saved.id, name=saved.name, query=saved.query, created_at=saved.created_at)


@api.get("/searches", response_model=list[SavedSearchOut])
def saved_searches(actor: Caller, service: Search) -> list[SavedSearchOut]:
    """Your saved searches, by name."""
    return [_out(saved) for saved in service.saved(actor)]


@api.post("/searches", response_model=SavedSearchOut, status_code=201)
def save_search(body: SavedSearchIn, actor: Caller, service: Search) -> SavedSearchOut:
    """Keep a search under a name; saving under a name you already use replaces that search."""
    filters = Filters.from_query(dict(parse_qsl(body.query)))
    return _out(service.save(actor, body.name, filters))


@api.delete("/searches/{saved_id}", status_code=204)
def delete_saved_search(saved_id: str, actor: Caller, service: Search) -> Response:
    """Forget one of your saved searches."""
    service.delete_saved(actor, saved_id)
    return Response(status_code=204)
