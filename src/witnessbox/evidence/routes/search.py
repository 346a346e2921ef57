"""Search: the library page and its API, saved searches."""

from fastapi import APIRouter

api = APIRouter(tags=["search"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
