"""Console forms keep every field: load a record, submit the form unchanged, nothing changes.

Each form is read from the page as a browser would submit it (tests/app/webforms.py), so a
field the template drops, a value it renders in a shape the form cannot read back, or a field
the form writes without showing fails here. The records hold a value in every field of the
create schema (the tables of tests/app/test_field_registry.py).
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.routers.web.forms import DemandForm, EventForm, SmeProfileForm
from app.schemas.demand import DemandCreate
from app.schemas.event import EventUpdate
from app.schemas.sme import SmeCreate
from tests.app.test_field_registry import (
    DEMAND_FULL,
    EVENT_FULL,
    SME_FULL,
    _demand_input,
    _names,
)
from tests.app.webforms import account, made, rendered_form, submit
from tests.factories import leader_payload, uscc

# Read-back fields that change on every save.
VOLATILE = {"version", "updated_at"}


def _unchanged(before: dict[str, Any], after: dict[str, Any], edited: set[str]) -> None:
    for key in set(before) - VOLATILE - edited:
        assert after[key] == before[key], key


def test_each_form_shows_or_declares_every_field() -> None:
    """A field added to a record's schema must be shown by its form or declared unshown."""
    for form, fields in (
        (SmeProfileForm, set(SmeCreate.model_fields)),
        (DemandForm, set(DemandCreate.model_fields)),
        (EventForm, _names(EventUpdate) - {"version"}),
    ):
        assert form.shown | form.unshown == fields, form.__name__
        assert not form.shown & form.unshown, form.__name__


# -- the SME profile ----------------------------------------------------------------------------


def _sme(client: TestClient, **changes: Any) -> tuple[dict[str, Any], TestClient]:
    sme = made(client.post("/api/v1/smes", json={**SME_FULL, "uscc": uscc(), **changes}))
    web = account(client, f"form.sme{sme['id']}", "sme", sme_id=sme["id"])
    return sme, web


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # Optional fields left empty, a certificate not in the list, a product without capacity.
        {
            "uscc": None,
            "county": None,
            "size_class": None,
            "rd_share": None,
            "contact_email": None,
            "certifications": ["ISO 9001", "ISO 3834-2"],
            "products": [{"name": "制动夹钳铸件", "niche": "制动系统铸件"}],
            "leaders_supplied": [],
            "export": False,
        },
    ],
)
def test_the_profile_form_submitted_unchanged_changes_nothing(
    client: TestClient, changes: dict[str, Any]
) -> None:
    sme, web = _sme(client, **changes)
    submit(web, "/sme/profile", rendered_form(web, "/sme/profile"))
    after = made(client.get(f"/api/v1/smes/{sme['id']}"), 200)
    _unchanged(sme, after, set())
    assert after["version"] == sme["version"] + 1


@pytest.mark.parametrize(
    ("box", "typed", "field", "stored"),
    [
        ("description", "新的企业简介：扩建焊接车间", "description", "新的企业简介：扩建焊接车间"),
        ("contact_phone", "0532-80000009", "contact_phone", "0532-80000009"),
        ("rd_share", "", "rd_share", None),
        ("export", None, "export", False),
        ("leaders_supplied", "潍柴动力、海尔集团", "leaders_supplied", ["潍柴动力", "海尔集团"]),
    ],
)
def test_a_one_field_edit_of_the_profile_changes_that_field_only(
    client: TestClient, box: str, typed: str | None, field: str, stored: Any
) -> None:
    sme, web = _sme(client)
    fields = rendered_form(web, "/sme/profile")
    if typed is None:
        fields.pop(box)  # an unticked checkbox is not posted
    else:
        fields[box] = [typed]
    submit(web, "/sme/profile", fields)
    after = made(client.get(f"/api/v1/smes/{sme['id']}"), 200)
    assert after[field] == stored
    _unchanged(sme, after, {field})


# -- a leader's need ----------------------------------------------------------------------------


def _demand(client: TestClient, **changes: Any) -> tuple[dict[str, Any], TestClient, str]:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    values = _demand_input({**DEMAND_FULL, "leader_id": leader["id"]}) | changes
    demand = made(client.post("/api/v1/demands", json=values))
    web = account(client, f"form.leader{demand['id']}", "leader", leader_id=leader["id"])
    return demand, web, f"/leader/needs/{demand['id']}/edit"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"budget": {"min": 200}, "region_preference": "any", "link": None, "valid_until": None},
        {"budget": {"max": 500}, "region_preference": "province", "quantity": 12.5},
        {"budget": "面议", "required_certifications": [], "keywords": [], "min_tier": None},
        {"budget": None, "status": "draft", "specification": None, "lead_time_days": None},
    ],
)
def test_the_demand_form_submitted_unchanged_changes_nothing(
    client: TestClient, changes: dict[str, Any]
) -> None:
    demand, web, page = _demand(client, **changes)
    submit(web, page, rendered_form(web, page))
    after = made(client.get(f"/api/v1/demands/{demand['id']}"), 200)
    _unchanged(demand, after, set())


def test_a_one_field_edit_of_the_demand_changes_that_field_only(client: TestClient) -> None:
    demand, web, page = _demand(client)
    fields = rendered_form(web, page)
    fields["title"] = ["转向架构架焊接件（二期）"]
    submit(web, page, fields)
    after = made(client.get(f"/api/v1/demands/{demand['id']}"), 200)
    assert after["title"] == "转向架构架焊接件（二期）"
    _unchanged(demand, after, {"title"})


# -- an event's basics --------------------------------------------------------------------------


def _event(client: TestClient, **changes: Any) -> tuple[dict[str, Any], TestClient, str]:
    event = made(client.post("/api/v1/events", json={**EVENT_FULL, **changes}))
    web = account(client, f"form.organizer{event['id']}", "organizer")
    return event, web, f"/organizer/events/{event['id']}"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"breaks": [], "chains": [], "venue": "", "notes": "", "leader_fixed_table": True},
        {"breaks": [{"start": "10:30", "end": "10:45"}, {"start": "12:00", "end": "13:30"}]},
    ],
)
def test_the_event_form_submitted_unchanged_changes_nothing(
    client: TestClient, changes: dict[str, Any]
) -> None:
    event, web, page = _event(client, **changes)
    submit(web, page, rendered_form(web, page))
    after = made(client.get(f"/api/v1/events/{event['id']}"), 200)
    _unchanged(event, after, set())


def test_a_one_field_edit_of_the_event_changes_that_field_only(client: TestClient) -> None:
    event, web, page = _event(client)
    fields = rendered_form(web, page)
    fields["venue"] = ["济南国际会展中心"]
    submit(web, page, fields)
    after = made(client.get(f"/api/v1/events/{event['id']}"), 200)
    assert after["venue"] == "济南国际会展中心"
    _unchanged(event, after, {"venue"})


def test_a_new_event_from_the_form_stores_what_was_typed(client: TestClient) -> None:
    web = account(client, "form.organizer.new", "organizer")
    fields = rendered_form(web, "/organizer/events")
    fields |= {
        "title": ["海洋装备产业链对接会"],
        "date": ["2027-05-12"],
        "breaks": ["12:00－13:00 午餐"],
        "chains": ["marine"],
    }
    response = submit(web, "/organizer/events", fields)
    event_id = int(response.headers["location"].rsplit("/", 1)[1])
    event = made(client.get(f"/api/v1/events/{event_id}"), 200)
    assert (event["title"], event["date"], event["chains"]) == (
        "海洋装备产业链对接会",
        "2027-05-12",
        ["marine"],
    )
    assert event["breaks"] == [{"start": "12:00", "end": "13:00", "title": "午餐"}]
    assert (event["meeting_minutes"], event["slot_count"], event["tables"]) == (20, 12, 10)


@pytest.mark.parametrize(
    ("budget", "shown"),
    [
        ({"min": 200, "max": 500}, "200–500 万元"),
        ({"min": 200}, "200 万元以上"),
        ({"max": 500}, "500 万元以内"),
    ],
)
def test_an_sme_reads_a_budget_with_one_bound_as_typed(
    client: TestClient, budget: dict[str, float], shown: str
) -> None:
    """A need with only a lower bound showed as "200–0 万元" on the SME's page."""
    demand, _web, _page = _demand(client, budget=budget)
    sme = made(client.post("/api/v1/smes", json={**SME_FULL, "uscc": uscc()}))
    web = account(client, f"form.reader{sme['id']}", "sme", sme_id=sme["id"])
    page = web.get(f"/sme/needs/{demand['id']}")
    assert page.status_code == 200, page.text
    assert f"<dd>{shown}</dd>" in page.text
