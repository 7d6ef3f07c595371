"""Console pages of the sme role."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
