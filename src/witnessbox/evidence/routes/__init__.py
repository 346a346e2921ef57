"""The evidence area's API and pages, one module per part of the work; `ROUTERS` in mounting order."""

from witnessbox.evidence.routes import annotations, incidents, items, library, live, search

# Fixed paths (search, events) before items' "/{item_id}" patterns.
ROUTERS = (
    search.api,
    library.pages,
    live.api,
    annotations.api,
    incidents.api,
    incidents.pages,
    items.api,
    items.pages,
)
