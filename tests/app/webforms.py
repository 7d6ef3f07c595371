"""Console test helpers: accounts signed in through the login form, and what a browser submits
for a console form left as rendered (tests of the form classes)."""

from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct horse 42"


def made(r: Any, code: int = 201) -> Any:
    """The JSON of a response with this status (None for an empty body)."""
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def account(client: TestClient, username: str, role: str, **binding: int) -> TestClient:
    """An account made by the admin, signed in through the login form on a fresh client."""
    made(
        client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role, **binding},
        )
    )
    web = TestClient(client.app, raise_server_exceptions=False)
    r = web.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return web


class FormReader(HTMLParser):
    """The fields of the POST form whose action is `action`, as a browser would submit them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.fields: list[tuple[str, str]] = []
        self.found = False
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None
        self._selected: list[str] = []
        self._first_option: str | None = None
        self._multiple = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and not self.found:
            self._in_form = self.found = a.get("action", "") == self.action
        if not self._in_form or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []
        elif tag == "select":
            self._select, self._selected, self._first_option = a["name"], [], None
            self._multiple = "multiple" in a
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self._selected.append(a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if self._multiple:
                self.fields += [(self._select, v) for v in self._selected]
            else:
                chosen = self._selected[0] if self._selected else self._first_option
                self.fields.append((self._select, chosen or ""))
            self._select = None


def rendered_form(web: TestClient, page: str, action: str | None = None) -> dict[str, list[str]]:
    """The form posting to `action` (default: the page itself) as the page renders it."""
    response = web.get(page)
    assert response.status_code == 200, response.text
    reader = FormReader(action or page)
    reader.feed(response.text)
    assert reader.found, f"no form posting to {action or page} on {page}"
    fields: dict[str, list[str]] = {}
    for name, value in reader.fields:
        fields.setdefault(name, []).append(value)
    return fields


def submit(web: TestClient, action: str, fields: dict[str, Any]) -> Any:
    """Post the form; a saved form answers with a redirect."""
    response = web.post(action, data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response
