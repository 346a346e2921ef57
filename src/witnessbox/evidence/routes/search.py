"""Search API and saved searches API."""

from fastapi import APIRouter

api = APIRouter(tags=["search"])
