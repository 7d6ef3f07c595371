"""Liveness and readiness."""

from fastapi import APIRouter

from app.deps import SessionDep
from app.repositories import system
from app.repositories import taxonomy as taxonomy_repo

router = APIRouter(tags=["health"])


@router.get("/health", summary="服务健康检查 / health check")
def health(session: SessionDep) -> dict:
    """Report that the service and its database answer."""
    system.ping(session)
    version = taxonomy_repo.current_version(session)
    return {
        "status": "ok",
        "database": "ok",
        "taxonomy_version": version.code if version else None,
    }
