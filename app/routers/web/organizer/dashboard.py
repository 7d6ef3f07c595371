"""The organizer's chain dashboard and the map of one chain."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.deps import IndexDep
from app.routers.web.organizer.shared import OrganizerPage
from app.services import console
from app.services import events as service

router = APIRouter()


@router.get("", response_class=HTMLResponse)
def dashboard(page: OrganizerPage, index: IndexDep) -> HTMLResponse:
    """Each chain of the current taxonomy with SMEs, open needs and weak links."""
    chains = console.chain_overview(page.session, index)
    recent = service.list_events(page.session, 5, 0).items
    return page.render("web/organizer/dashboard.html", chains=chains, events=recent)


@router.get("/chains/{code}", response_class=HTMLResponse)
def chain_page(page: OrganizerPage, code: str, index: IndexDep) -> HTMLResponse:
    """The chain map: sub-chains, links by stage, suppliers and needs per link, weak links."""
    chain = console.chain_map(page.session, index, code)
    return page.render("web/organizer/chain.html", chain=chain)
