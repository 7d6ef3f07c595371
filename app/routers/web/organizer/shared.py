"""What the organizer pages share: the page's request, user and session; the posted form; the
user's errors shown in place; redirects to an anchor."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.deps import SessionDep
from app.errors import DomainError, InvalidInput, NotFound, field_errors_from_pydantic
from app.routers.web.common import OrganizerUser, PageRefused, redirect, render
from app.services import console
from app.services.auth import Principal

Text = Annotated[str, Form()]
# What a page tells the user (a bad form, a refused change); anything else is a bug, a 500.
USER_ERRORS = (ValidationError, InvalidInput, DomainError)


@dataclass(frozen=True)
class Page:
    """An organizer page: its request, the signed-in organizer and the request's session."""

    request: Request
    user: Principal
    session: Session

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The page drawn from `template`; an error status raises PageRefused, as render does."""
        return render(self.request, template, self.user, status_code, **context)

    @contextmanager
    def in_place(self, show: Callable[[Exception], HTMLResponse]) -> Iterator[None]:
        """Run a change; if the user's input is refused, `show(exc)` draws the page with the reason.

        A record that does not exist is left to the console's error page. The refused change is
        rolled back before the page is drawn again: some services flush before they refuse, and
        the page must show what is stored. `show` renders with an error status, which raises
        PageRefused.
        """
        try:
            yield
        except NotFound:
            raise
        except USER_ERRORS as exc:
            self.session.rollback()
            raise PageRefused(show(exc)) from exc


def _page(request: Request, user: OrganizerUser, session: SessionDep) -> Page:
    return Page(request, user, session)


OrganizerPage = Annotated[Page, Depends(_page)]


def typed(data: FormData, **defaults: str) -> dict[str, str]:
    """The named boxes of a posted form as typed; an empty or missing one has its default."""
    return {name: str(data.get(name) or default) for name, default in defaults.items()}


def messages(exc: Exception) -> list[str]:
    """Every Chinese message of a user error, in order, without repeats."""
    if isinstance(exc, ValidationError):
        errors = field_errors_from_pydantic(exc.errors())
    elif isinstance(exc, InvalidInput):
        errors = exc.errors
    elif isinstance(exc, DomainError):
        return [exc.message_zh]
    else:
        raise exc
    return list(dict.fromkeys(e.msg_zh for e in errors))


def item_errors(
    exc: Exception, rename: dict[str, str] | None = None, labels: list[str] | None = None
) -> dict[str, str]:
    """Errors of list items (participants, preferences) keyed by the item's field.

    With `labels`, each message names the item it is about (the id the user typed).
    """
    if isinstance(exc, DomainError):
        return {"_": exc.message_zh}
    errors = (
        field_errors_from_pydantic(exc.errors()) if isinstance(exc, ValidationError) else exc.errors
    )
    out: dict[str, list[str]] = {}
    for err in errors:
        names = [p for p in err.loc if isinstance(p, str) and p != "body"]
        field = names[-1] if len(names) > 1 else "_"
        key = (rename or {}).get(field, field)
        message = err.msg_zh
        index = next((p for p in err.loc if isinstance(p, int)), None)
        # Only the id errors name their item; a bad cap is the same for every id.
        if (
            labels
            and field in ("leader_id", "sme_id")
            and index is not None
            and index < len(labels)
        ):
            message = f"{labels[index]}：{message}"
        if message not in out.setdefault(key, []):
            out[key].append(message)
    return {k: "；".join(v) for k, v in out.items()}


def go(path: str, msg: str, anchor: str = "") -> RedirectResponse:
    """303 with a notice; the #anchor goes after the query, where browsers look for it."""
    response = redirect(path, msg)
    if anchor:
        response.headers["location"] += f"#{anchor}"
    return response


def meeting_event(session: Session, meeting_id: int) -> int:
    """The event a meeting belongs to; a meeting that does not exist is a 404 page."""
    event_id = console.meeting_event_id(session, meeting_id)
    if event_id is None:
        raise NotFound(f"meeting {meeting_id}", f"会谈 {meeting_id} 不存在")
    return event_id
