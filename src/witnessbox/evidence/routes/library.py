"""The library page: search with filters, results with thumbnails, bulk actions, saved searches."""

from fastapi import APIRouter

pages = APIRouter(tags=["pages"], include_in_schema=False)
