"""Liveness and readiness."""

from fastapi import APIRouter
from sqlalchemy import text

from app.deps import SessionDep
from app.repositories import taxonomy as taxonomy_repo

router = APIRouter(tags=["health"])


@router.get("/health", summary="服务健康检查 / health check")
def health(session: SessionDep) -> dict:
    """Report that the service and its database answer."""
    session.execute(text("SELECT 1"))
    version = taxonomy_repo.current_version(session)
    return {
        "status": "ok",
        "database": "ok",
        "taxonomy_version": version.code if version else None,
    }
