"""Live updates: a server-sent event stream of new uploads, finished proxies and shares."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from witnessbox.accounts.dependencies import built_with
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.core.actor import Actor
from witnessbox.core.errors import InvalidInput
from witnessbox.evidence.live import LiveEvent, LiveFeed
from witnessbox.evidence.routes._shared import Caller

api = APIRouter(tags=["live"])

POLL_S = 1.0
KEEP_ALIVE_S = 15.0
LONGEST_S = 300.0  # then the browser reconnects with Last-Event-ID; no stream outlives a deploy by long
RETRY_MS = 3000


live_feed = built_with("live", LiveFeed)


Feed = Annotated[LiveFeed, Depends(live_feed)]


@api.get(
    "/api/v1/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    actor: Caller,
    feed: Feed,
    last_event_id: Annotated[str | None, Header(description="set by a reconnecting EventSource")] = None,
    since: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
    duration: Annotated[
        float, Query(ge=0, le=LONGEST_S, description="seconds to stay open; 0 sends what is waiting and ends")
    ] = LONGEST_S,
) -> StreamingResponse:
    """Server-sent events: `item-created`, `item-ready` and `item-shared`, for items you may see.

    Starts from now, or after `Last-Event-ID` / `since`. Each event's `id` is its place
    in the audit trail, its `data` a JSON description of the item.
    """
    require(actor, Permission.ITEM_LIST)
    start = _resume_point(last_event_id, since)
    cursor = start if start is not None else await asyncio.to_thread(feed.head)
    stream = _stream(feed, actor, cursor, duration)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _resume_point(last_event_id: str | None, since: int | None) -> int | None:
    if last_event_id is None:
        return since
    if not last_event_id.strip().isdigit():
        raise InvalidInput("Last-Event-ID must be an event id (a whole number)")
    return int(last_event_id)


async def _stream(feed: LiveFeed, actor: Actor, cursor: int, duration: float) -> AsyncIterator[str]:
    """Poll the feed about once a second, off the event loop, until the time is up.

    A client that goes away cancels the stream at once (the response listens for the
    disconnect), so nothing keeps polling for a page that was closed.
    """
    yield f"retry: {RETRY_MS}\n\n"
    deadline = time.monotonic() + duration
    quiet_since = time.monotonic()
    while True:
        batch = await asyncio.to_thread(feed.since, cursor, actor=actor)
        cursor = batch.cursor
        for event in batch.events:
            yield _format(event)
            quiet_since = time.monotonic()
        if time.monotonic() >= deadline:
            return
        if time.monotonic() - quiet_since >= KEEP_ALIVE_S:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(min(POLL_S, max(deadline - time.monotonic(), 0)))


def _format(event: LiveEvent) -> str:
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(event.data, separators=(',', ':'))}\n\n"
