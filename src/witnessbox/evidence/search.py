"""Search over the items a person may see: filters, full text, place, sort, keyset paging."""

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select

from witnessbox.core.clock import Clock
from witnessbox.db.session import Database

# The item ids in one case, as a subquery (handed in by the composition root: cases sit above evidence).
CaseScope = Callable[[str], Select[Any]]


def words(text: str) -> list[str]:
    """The words text is indexed and searched by: lower-case runs of letters and digits.

    Both databases are given these words already split (SQLite FTS5 unicode61, PostgreSQL
    to_tsvector('simple')), so they find the same items.
    """
    return re.findall(r"\w+", text.lower())


class SearchService:
    """Finds items for a person, and keeps each item's words and places up to date."""

    def __init__(self, db: Database, clock: Clock, case_scope: CaseScope) -> None:
        self.db, self.clock, self.case_scope = db, clock, case_scope
