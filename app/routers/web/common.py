"""Shared parts of the web console: templates, the signed-in user, forms and their errors,
redirects, and the bits of match pages that several roles show."""

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.deps import SESSION_COOKIE, SessionDep, SettingsDep, bind_principal
from app.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    Unauthorized,
    field_errors_from_pydantic,
)
from app.services import auth, taxonomy
from app.services.auth import Principal
from matching import vocab

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent.parent / "templates")


def highlight_terms(text: str | None, terms: list[str] | None) -> Markup:
    """Escape `text` and wrap each matched term in <mark> (longest terms first, no nesting)."""
    text = text or ""
    wanted = sorted({t for t in terms or [] if t and t.strip()}, key=len, reverse=True)
    if not wanted:
        return Markup(escape(text))
    # Match on the raw text, escape each piece: a term never cuts into an HTML entity.
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        out.append(str(escape(text[last : found.start()])))
        out.append(f"<mark>{escape(found.group(0))}</mark>")
        last = found.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def budget_label(budget: Any) -> str:
    """A need's budget as shown: 200–500 万元, 200 万元以上, 500 万元以内 or 面议."""
    if budget is None:
        return "未填写"
    if budget.negotiable:
        return "面议"
    low, high = budget.min, budget.max
    if low is not None and high is not None:
        return f"{low:g} 万元" if low == high else f"{low:g}–{high:g} 万元"
    if low is not None:
        return f"{low:g} 万元以上"
    return f"{high:g} 万元以内" if high is not None else "未填写"


TEMPLATES.env.filters["highlight_terms"] = highlight_terms
TEMPLATES.env.filters["budget_label"] = budget_label
TEMPLATES.env.globals.update(
    tier_labels={t.value: label for t, label in vocab.TIER_LABELS.items()},
    role_labels=auth.ROLE_LABELS,
)


class LoginRequired(Exception):
    """Raised by console pages without a valid session; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class WrongRole(Exception):
    """A signed-in user opened another role's page."""


class PageRefused(Exception):
    """A console page that refuses the request (a form with errors, a missing record).

    Raised, not returned, so the request's session rolls back whatever a service wrote before
    it refused; the one HTML error handler (app.routers.web.install) answers with `response`.
    """

    def __init__(self, response: HTMLResponse) -> None:
        self.response = response


def web_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """The signed-in user of a console page (session cookie); otherwise off to /login."""
    token = request.cookies.get(SESSION_COOKIE)
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(next_url)
    try:
        principal = auth.authenticate(session, settings, token)
    except Unauthorized:
        raise LoginRequired(next_url) from None
    # The one HTML error handler (app.routers.web.install) names the user in the page it shows.
    request.state.principal = principal
    return bind_principal(request, session, principal)


WebUser = Annotated[Principal, Depends(web_principal)]


def web_role(*roles: str):
    """A dependency admitting only these roles (admins always) to a console page."""
    allowed = set(roles) | {"admin"}

    def check(principal: WebUser) -> Principal:
        if principal.role not in allowed:
            raise WrongRole()
        return principal

    return check


SmeUser = Annotated[Principal, Depends(web_role("sme"))]
LeaderUser = Annotated[Principal, Depends(web_role("leader"))]
OrganizerUser = Annotated[Principal, Depends(web_role("organizer"))]


# The notice of a redirect travels in a short-lived cookie that only this site can set, not in
# the URL: a `?msg=` anyone can link to would show attacker-chosen text as an official notice.
NOTICE_COOKIE = "chainmatch_notice"
NOTICE_MAX_CHARS = 300


def page_response(
    request: Request,
    template: str,
    user: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A console page as a response, never raised (the error handlers answer with it)."""
    raw = request.cookies.get(NOTICE_COOKIE)
    notice = unquote(raw)[:NOTICE_MAX_CHARS] if raw else None
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"user": user, "notice": notice, **context},
        status_code=status_code,
    )
    if raw is not None:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def render(
    request: Request,
    template: str,
    user: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A console page; the notice of the redirect that led here shows at the top, once.

    A page with an error status (a form refused, a record missing) is raised as PageRefused
    rather than returned: the request's session then rolls back what a service wrote before it
    refused, with no savepoint or flag in the handlers.
    """
    response = page_response(request, template, user, status_code, **context)
    if status_code >= 400:
        raise PageRefused(response)
    return response


def redirect(url: str, msg: str | None = None) -> RedirectResponse:
    """303 to a page (after a POST), optionally with a notice shown there once."""
    response = RedirectResponse(url, status_code=303)
    if msg:
        response.set_cookie(
            NOTICE_COOKIE,
            quote(msg[:NOTICE_MAX_CHARS]),
            max_age=60,
            path="/",
            httponly=True,
            samesite="lax",
        )
    return response


async def _form(request: Request) -> FormData:
    """The posted form, read once; the endpoints stay synchronous (their database work blocks)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(_form)]


def form_errors(exc: Exception) -> dict[str, str]:
    """Field name -> Chinese message, for showing errors next to their inputs.

    Accepts a pydantic ValidationError, an InvalidInput or a DomainError (under the key "_").
    """
    if isinstance(exc, ValidationError):
        errors = field_errors_from_pydantic(exc.errors())
    elif isinstance(exc, InvalidInput):
        errors = exc.errors
    elif isinstance(exc, DomainError):
        return {"_": exc.message_zh}
    else:
        raise exc
    out: dict[str, str] = {}
    for err in errors:
        parts = [str(p) for p in err.loc if p != "body"]
        key = parts[0] if parts else "_"
        out.setdefault(key, err.msg_zh)
    return out


def page_errors(exc: Exception) -> dict[str, str]:
    """Form errors; a domain error that names its field (a taken credit code) shows there."""
    if isinstance(exc, DomainError) and exc.extra.get("field"):
        return {str(exc.extra["field"]): exc.message_zh}
    return form_errors(exc)


def status_of(exc: Exception) -> int:
    """HTTP status of a refused form: the domain error's own (409 conflict...) or 422."""
    return exc.status_code if isinstance(exc, DomainError) else 422


def split_list(text: str | None) -> list[str]:
    """A list typed in a text box: one per line, or separated by 、 , ; ，；."""
    if not text:
        return []
    for sep in ("\n", "、", "，", "；", ";", ","):
        text = text.replace(sep, "\n")
    return [part.strip() for part in text.split("\n") if part.strip()]


def chain_options(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the current version's chains, for checkboxes and selects."""
    try:
        return [(c.code, c.name) for c in taxonomy.list_chains(session, None)]
    except NotFound:
        return []  # no taxonomy loaded yet: the pages still open, with no chain to pick


# Chinese names of the score components, in the order they are shown.
COMPONENT_LABELS = {
    "dense": "语义相近",
    "lexical": "用词相近",
    "terms": "关键词命中",
    "link": "产业链环节",
    "certificates": "资质",
    "tier": "企业梯度",
    "region": "地区",
    "capacity": "产能",
    "supplied": "配套经历",
    "must_missing": "缺必备资质",
}
CONTACT_NOTE = "双方表达意向或安排会谈后可见联系方式"


def bar_scale(items: list[Any]) -> float:
    """The scale of the component bars: the largest positive contribution on the page."""
    top = max((v for m in items for v in m.components.values() if v > 0), default=0.0)
    return max(top, 1.0)
