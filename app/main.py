"""Application factory: settings, engine and routes; `app.main:app` is the ASGI app."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from app.config import Settings, get_settings
from app.db import make_engine, make_read_session_factory, make_session_factory
from app.errors import install_error_handlers
from app.guards import RefuseCrossSiteWrites, SecurityHeaders
from app.routers import (
    auth,
    chains,
    claims,
    demands,
    events,
    health,
    imports,
    leaders,
    matches,
    smes,
    web,
)
from app.services import import_jobs
from app.services.matching import MatchingRuntime

log = logging.getLogger("chainmatch")

API_PREFIX = "/api/v1"


class BodySizeLimit:
    """Refuse request bodies over the configured size with a 413, before reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            status_code=413,
            content={
                "error": "payload_too_large",
                "message": f"request body over {self.max_bytes} bytes",
                "message_zh": f"请求体超过 {self.max_bytes} 字节上限",
                "detail": f"请求体过大 / request body over {self.max_bytes} bytes",
            },
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class RefuseBadCharacters:
    """A NUL or invalid UTF-8 in the path or query string is a 422, not a database error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
            query = scope.get("query_string", b"")
            try:
                decoded = unquote_to_bytes(raw) + unquote_to_bytes(query)
                bad = b"\x00" in decoded
                decoded.decode("utf-8")
            except (UnicodeDecodeError, ValueError):
                bad = True
            if bad:
                response = JSONResponse(
                    status_code=422,
                    content={
                        "error": "validation_error",
                        "message": "the URL contains a NUL or invalid UTF-8",
                        "message_zh": "网址中含有空字符或无效的 UTF-8 编码",
                        "detail": [
                            {
                                "type": "value_error",
                                "loc": ["url"],
                                "field": "url",
                                "msg": "the URL contains a NUL or invalid UTF-8",
                                "msg_zh": "网址中含有空字符或无效的 UTF-8 编码",
                            }
                        ],
                    },
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def limit_blas_threads(threads: int) -> None:
    """Cap the BLAS thread pool of this process (see Settings.blas_threads)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings (and may swap the session factory)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_blas_threads(settings.blas_threads)
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        app.state.engine = engine
        if getattr(app.state, "session_factory", None) is None:
            app.state.session_factory = make_session_factory(engine)
            app.state.read_session_factory = make_read_session_factory(
                engine, app.state.session_factory
            )
        elif getattr(app.state, "read_session_factory", None) is None:
            # A factory swapped in by a test serves reads too (they see its transaction).
            app.state.read_session_factory = app.state.session_factory
        runtime = MatchingRuntime(
            settings,
            app.state.session_factory,
            read_session_factory=app.state.read_session_factory,
        )
        runtime.load()
        runtime.start()
        app.state.matching = runtime
        import_loop = None
        if settings.import_poll_seconds > 0:
            import_loop = import_jobs.ImportLoop(
                app.state.session_factory,
                settings,
                runtime,
                runtime.instance,
                settings.import_poll_seconds,
            )
            import_loop.start()
        try:
            yield
        finally:
            if import_loop is not None:
                import_loop.stop()
            runtime.stop()
            engine.dispose()

    app = FastAPI(
        title="链配 chainmatch",
        version="0.1.0",
        summary="山东标志性产业链链主企业与专精特新中小企业供需对接 / "
        "matchmaking between chain leaders and specialised SMEs",
        lifespan=lifespan,
        # Served from the installed swagger-ui-bundle below: the default loads it from a CDN,
        # which a machine without internet access cannot reach.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = None
    # Requests that only read (GET, HEAD, OPTIONS) get their session here: see app.db.
    app.state.read_session_factory = None
    app.state.matching = None
    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={
                "error": "internal_error",
                "message": "internal error; the request was not applied",
                "message_zh": "服务器内部错误，本次请求未生效",
                "detail": "服务器内部错误 / internal error",
            },
        )

    api = APIRouter(prefix=API_PREFIX)
    for module in (health, auth, chains, leaders, smes, claims, demands, matches, events, imports):
        api.include_router(module.router)
    app.include_router(api)

    web.install(app)
    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="链配 chainmatch API",
            swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/swagger-ui/favicon-32x32.png",
        )

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseBadCharacters)
    app.add_middleware(RefuseCrossSiteWrites)
    # Outermost, so refusals above carry the headers too.
    app.add_middleware(SecurityHeaders)
    return app


app = create_app()
