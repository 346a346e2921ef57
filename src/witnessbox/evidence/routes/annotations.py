"""People's bookmarks and notes at a timecode: API for the player page."""

from fastapi import APIRouter

api = APIRouter(tags=["annotations"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
