"""The evidence area's API and pages, one module per part of the work; `ROUTERS` in mounting order."""

from witnessbox.evidence.routes import (
    annotations,
    held,
    incidents,
    items,
    library,
    live,
    search,
    unattributed,
)

# Fixed paths (search, events) before items' "/{item_id}" patterns.
ROUTERS = (
    search.api,
    held.api,
    unattributed.api,
    unattributed.pages,
    library.pages,
    live.api,
    annotations.api,
    incidents.api,
    incidents.pages,
    items.api,
    items.pages,
)
