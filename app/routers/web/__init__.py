"""The web console (server-rendered, Chinese), served by the same app as the API."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.config import PROJECT_ROOT
from app.errors import USER_ERROR_TYPES, InvalidInput, as_user_error, error_response
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

    async def _error_page(request: Request, exc: Exception) -> Response:
        """The console's one error page, for domain and validation errors alike (a bad id in
        a link, a record gone, another firm's record); the API keeps its JSON answers."""
        if request.url.path.startswith("/api/"):
            return error_response(exc)
        error = as_user_error(exc)
        if isinstance(error, InvalidInput):
            status = 422
            message = "输入有误：" + "；".join(dict.fromkeys(e.msg_zh for e in error.errors))
        else:
            status, message = error.status_code, error.message_zh
        user = getattr(request.state, "principal", None)
        return page_response(
            request, "web/error.html", user, status_code=status, message=message, status=status
        )

    for kind in USER_ERROR_TYPES:
        app.add_exception_handler(kind, _error_page)

    @app.exception_handler(PageRefused)
    async def _refused(_: Request, exc: PageRefused) -> Response:
        """A page that refused (its form with the errors in place); nothing it wrote is kept."""
        return exc.response

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, _: WrongRole) -> HTMLResponse:
        return page_response(request, "web/forbidden.html", status_code=403)
