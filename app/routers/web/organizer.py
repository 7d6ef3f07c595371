"""Console pages of the organizer role."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
