"""Console pages everyone shares: sign-in, SME sign-up, sign-out and the home of each role."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.deps import SESSION_COOKIE, ReadSessionsDep, SessionDep, SettingsDep
from app.errors import DomainError, InvalidInput
from app.routers.auth import client_ip
from app.routers.web.common import WebUser, form_errors, redirect, render
from app.schemas.auth import LoginIn, UserCreate
from app.services import auth

router = APIRouter(include_in_schema=False)

HOMES = {"sme": "/sme", "leader": "/leader", "organizer": "/organizer", "admin": "/organizer"}


def _safe_next(next_url: str | None) -> str | None:
    # Only paths on this site: an open redirect would hand the session to another host.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return None


def _signed_in(
    token: str, expires_hours: float, target: str, secure: bool, device: str | None = None
) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(expires_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    if device is not None:
        # Outlives the session and sign-out: it marks the browser as one the owner uses, which
        # strangers' failed guesses cannot lock out (app.services.auth._refuse_when_limited).
        response.set_cookie(
            auth.DEVICE_COOKIE,
            device,
            max_age=auth.DEVICE_DAYS * 86400,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
    return response


@router.get("/", response_class=HTMLResponse)
def home(user: WebUser) -> RedirectResponse:
    """Each role has its own home."""
    return RedirectResponse(HOMES.get(user.role, "/login"), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "web/login.html", next=_safe_next(next), errors={}, form={})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReadSessionsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
):
    """Check the password, set the session cookie, go home (or back where the user was)."""
    form = {"username": username}
    try:
        data = LoginIn(username=username, password=password)
        token, _row, user = auth.login(
            session,
            settings,
            data.username,
            data.password,
            client_ip(request),
            reader,
            device=request.cookies.get(auth.DEVICE_COOKIE),
        )
    except (ValidationError, InvalidInput, DomainError) as exc:
        status = getattr(exc, "status_code", 422)
        return render(
            request,
            "web/login.html",
            status_code=status,
            next=_safe_next(next),
            errors=form_errors(exc),
            form=form,
        )
    target = _safe_next(next) or HOMES.get(user.role, "/")
    device = auth.device_cookie(user)
    return _signed_in(token, settings.session_hours, target, settings.cookie_secure, device)


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    return render(request, "web/signup.html", errors={}, form={})


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReadSessionsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
):
    """An SME opens its own account, then registers its profile (limited per address)."""
    form = {"username": username, "display_name": display_name}
    try:
        if password != password2:
            return render(
                request,
                "web/signup.html",
                status_code=422,
                errors={"password2": "两次输入的密码不一致"},
                form=form,
            )
        data = UserCreate(
            username=username, password=password, role="sme", display_name=display_name
        )
        user = auth.sme_signup(
            session,
            settings,
            data.username,
            data.password,
            data.display_name,
            ip=client_ip(request),
            reader=reader,
        )
        # The password was set just now: no second Argon2 check inside the write transaction.
        token, _row = auth.start_session(session, settings, user)
    except (ValidationError, InvalidInput, DomainError) as exc:
        return render(
            request,
            "web/signup.html",
            status_code=getattr(exc, "status_code", 422),
            errors=form_errors(exc),
            form=form,
        )
    return _signed_in(token, settings.session_hours, "/sme/profile", settings.cookie_secure)


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep, user: WebUser):
    if user.token_id is not None:
        auth.revoke(session, user, user.token_id)
    response = redirect("/login", "已退出登录")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
