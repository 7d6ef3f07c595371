"""HTTP-level guards every response or write passes: security headers, cross-site write refusal."""

from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# frame-ancestors stops clickjacking (X-Frame-Options for older browsers); the rest of the policy
# only narrows what pages never need, so the console's inline scripts and styles keep working.
SECURITY_HEADERS = {
    "content-security-policy": (
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class SecurityHeaders:
    """Add the security headers to every HTTP response (a header already set is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_cross_site(method: str, headers: Headers) -> bool:
    """Whether a browser sent this write from another site (login CSRF and its kin).

    The rule of Go's CrossOriginProtection: `Sec-Fetch-Site` when the browser sends it
    (`same-origin` and `none`, a typed URL or bookmark, pass), else an `Origin` (or, from older
    browsers, a `Referer`) whose host must be the request's `Host`. A request with none of them
    comes from no browser (curl, scripts, tests): such clients carry no victim's cookies, so
    there is nothing to forge.
    """
    if method.upper() in SAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin") or headers.get("referer")
    if origin is None:
        return False
    if origin == "null":  # sandboxed frames, some privacy modes, data: URLs
        return True
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class RefuseCrossSiteWrites:
    """403 for a POST, PUT, PATCH or DELETE that a browser sent from another site.

    Before any handler runs, so sign-in and sign-up (which carry no session cookie yet, the
    check in app.deps) are covered as well: no site can sign a victim into its own account.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_cross_site(scope["method"], Headers(scope=scope)):
            message, message_zh = "cross-site request refused", "拒绝跨站请求，请在本站页面上操作"
            response = JSONResponse(
                status_code=403,
                content={
                    "error": "cross_site_request",
                    "message": message,
                    "message_zh": message_zh,
                    "detail": f"{message_zh} / {message}",
                },
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
