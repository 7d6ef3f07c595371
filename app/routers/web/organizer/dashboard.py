"""The organizer's chain dashboard and the map of one chain."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import IndexDep, SessionDep
from app.routers.web.common import OrganizerUser, render
from app.services import console
from app.services import events as service

router = APIRouter()


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> HTMLResponse:
    """Each chain of the current taxonomy with SMEs, open needs and weak links."""
    chains = console.chain_overview(session, index)
    recent = service.list_events(session, 5, 0).items
    return render(request, "web/organizer/dashboard.html", user, chains=chains, events=recent)


@router.get("/chains/{code}", response_class=HTMLResponse)
def chain_page(
    request: Request, code: str, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> HTMLResponse:
    """The chain map: sub-chains, links by stage, suppliers and needs per link, weak links."""
    chain = console.chain_map(session, index, code)
    return render(request, "web/organizer/chain.html", user, chain=chain)
