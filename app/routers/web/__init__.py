"""The web console (server-rendered, Chinese), served by the same app as the API."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.config import PROJECT_ROOT
from app.errors import DomainError, domain_response
from app.routers.web import claims, leader, organizer, pages, sme
from app.routers.web.common import LoginRequired, PageRefused, WrongRole, page_response

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(sme.router)
router.include_router(leader.router)
router.include_router(organizer.router)
router.include_router(claims.router)


def install(app: FastAPI) -> None:
    """Mount the console's pages, static files and its redirect-to-login handling."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "app" / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        """The console's one error page; the API keeps its JSON answers."""
        if request.url.path.startswith("/api/"):
            return domain_response(exc)
        user = getattr(request.state, "principal", None)
        return page_response(
            request,
            "web/error.html",
            user,
            status_code=exc.status_code,
            message=exc.message_zh,
            status=exc.status_code,
        )

    @app.exception_handler(PageRefused)
    async def _refused(_: Request, exc: PageRefused) -> Response:
        """A page that refused (its form with the errors in place); nothing it wrote is kept."""
        return exc.response

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, _: WrongRole) -> HTMLResponse:
        return page_response(request, "web/forbidden.html", status_code=403)
