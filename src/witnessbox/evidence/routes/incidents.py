"""Incidents seen by several cameras: proposals, and the synchronised multi-camera page."""

from fastapi import APIRouter

api = APIRouter(tags=["incidents"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
