"""Search over the items a person may see: filters, full text, place, sort, keyset paging.

The contract the API, the library page and the benchmark share: `Filters` (parsed from and
written back to the search page's query string, filters.py), `SearchService.search`
returning a `Page` with an opaque cursor for the next page (service.py), and `index_item`
(index.py), which every change to an item's words, bookmarks or track calls in its own
transaction. places.py keeps GPS tracks as points in a grid of small squares.

Every filter is an indexed equality, a range, or `Item.id IN (subquery)`, never an OR, so
the planner can start from whichever index is narrowest. Pages are keyset pages: the cursor
carries the last row's sort key, so page 1,000 costs what page 1 does. A place is looked up
in the grid squares around it (`cell_of`), and relevance order ranks every match exactly:
nothing here trades which items come back for speed.
"""

from witnessbox.evidence.search.filters import Box, Circle, Filters, Sort, words
from witnessbox.evidence.search.index import index_item
from witnessbox.evidence.search.places import MAX_CELLS, cell_of, cells_of, distance_m, thinned
from witnessbox.evidence.search.service import MAX_LIMIT, CaseScope, Cursor, Page, SearchService

__all__ = [
    "MAX_CELLS",
    "MAX_LIMIT",
    "Box",
    "CaseScope",
    "Circle",
    "Cursor",
    "Filters",
    "Page",
    "SearchService",
    "Sort",
    "cell_of",
    "cells_of",
    "distance_m",
    "index_item",
    "thinned",
    "words",
]
