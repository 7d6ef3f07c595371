"""Console pages of the organizer role: chain dashboard, docking events, schedule, import."""

from fastapi import APIRouter

from app.routers.web.organizer import dashboard, events, imports, outcomes, plan, schedule

router = APIRouter(include_in_schema=False)
for _part in (dashboard, events, plan, schedule, outcomes, imports):
    router.include_router(_part.router, prefix="/organizer")
