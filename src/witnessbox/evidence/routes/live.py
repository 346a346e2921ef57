"""Live updates: a server-sent event stream of new uploads, finished proxies and shares."""

from fastapi import APIRouter

api = APIRouter(tags=["live"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
