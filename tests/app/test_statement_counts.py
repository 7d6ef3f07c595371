"""SQL statements per request of the event pages, lists and exports: few, and flat in size.

A page or list that ran one query per event, participant or meeting (an N+1) would pass every
other test; these count the statements one request sends to the database and fail when the
number grows with the data, or when the page loads the same rows again.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.app.webforms import account, made
from tests.factories import demand_payload, leader_payload, sme_payload

# Not the request's own work: the savepoint every test request runs in (tests/conftest.py), and
# the signed-in user's token (looked up on each console page, its last use written at most once
# a minute, so the count would depend on the clock).
_BOOKKEEPING = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO)|\bauth_tokens\b")


class Statements:
    """The SQL statements sent on the test's engine while counting."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] | None = None

    def _record(self, _conn, _cursor, statement: str, *_args: Any) -> None:
        if self.seen is not None and not _BOOKKEEPING.search(statement):
            self.seen.append(" ".join(statement.split()))

    @contextmanager
    def __call__(self) -> Iterator[list[str]]:
        self.seen = []
        try:
            yield self.seen
        finally:
            self.seen = None

    def of(self, client: TestClient, url: str, **params: Any) -> list[str]:
        """The statements of one GET (which must succeed)."""
        with self() as seen:
            r = client.get(url, params=params)
        assert r.status_code == 200, r.text
        return list(seen)


@pytest.fixture
def statements(engine: Engine) -> Iterator[Statements]:
    counter = Statements(engine)
    event.listen(engine, "before_cursor_execute", counter._record)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter._record)


@pytest.fixture
def organizer(client: TestClient) -> TestClient:
    return account(client, "organizer.count", "organizer")


MEETINGS = 6


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """Two leaders, the first with a need per meeting to come, and six SMEs."""
    leaders = [
        made(client.post("/api/v1/leaders", json=leader_payload(name=f"计数链主{i}")))
        for i in range(2)
    ]
    demands = [
        made(
            client.post(
                "/api/v1/demands",
                json=demand_payload(
                    leaders[0]["id"], title=f"构架焊接件{i}", required_certifications=[]
                ),
            )
        )
        for i in range(MEETINGS)
    ]
    smes = [
        made(client.post("/api/v1/smes", json=sme_payload(name=f"计数企业{i}有限公司")))
        for i in range(MEETINGS)
    ]
    return {"leaders": leaders, "demands": demands, "smes": smes}


def make_event(client: TestClient, world: dict, meetings: int = 0, title: str = "计数会") -> int:
    """An event with every participant, a mark, and `meetings` meetings of distinct needs."""
    ev = made(
        client.post(
            "/api/v1/events",
            json={
                "title": title,
                "chains": ["equipment"],
                "date": "2027-05-20",
                "venue": "青岛国际会议中心",
                "start_time": "09:00",
                "meeting_minutes": 20,
                "gap_minutes": 5,
                "slot_count": 8,
                "breaks": [{"start": "11:30", "end": "12:30", "title": "午餐"}],
                "tables": 3,
            },
        )
    )
    l0, l1 = (x["id"] for x in world["leaders"])
    people = [
        {"leader_id": l0, "demand_ids": [n["id"] for n in world["demands"]], "cap": 8},
        {"leader_id": l1},
        *({"sme_id": s["id"], "cap": 3} for s in world["smes"]),
    ]
    made(client.post(f"/api/v1/events/{ev['id']}/participants", json={"participants": people}), 200)
    mark = {"leader_id": l0, "sme_id": world["smes"][0]["id"], "side": "leader", "mark": "must"}
    made(client.post(f"/api/v1/events/{ev['id']}/preferences", json={"preferences": [mark]}), 200)
    for i in range(meetings):
        made(
            client.post(
                f"/api/v1/events/{ev['id']}/meetings",
                json={
                    "leader_id": l0,
                    "sme_id": world["smes"][i]["id"],
                    "demand_id": world["demands"][i]["id"],
                    "slot": i,
                    "table": 0,
                },
            )
        )
    return ev["id"]


def reads(seen: list[str]) -> dict[str, int]:
    """How many statements read each table (by the table of the outer FROM)."""
    out: dict[str, int] = {}
    for statement in seen:
        found = re.search(r"\bFROM (\w+)", statement)
        if found:
            out[found.group(1)] = out.get(found.group(1), 0) + 1
    return out


def listing(seen: list[str]) -> str:
    return "\n".join(s[:160] for s in seen)


# The most statements each request may send (measured before this test existed: the event page
# 30 plus the token, the schedule page 12, the console list 12 with 2 events and 20 with 10,
# the API list 2 + one per event, an agenda 6 + one per meeting).
EVENT_PAGE = 12  # event, participants, 2 names, pairs, meetings, 2 pickers, 4 taxonomy
SCHEDULE_PAGE = 6  # event, participants, meetings, 2 names, need titles
CONSOLE_LIST = 7  # count, page, participant counts, 4 taxonomy
API_LIST = 3  # count, page, participant counts
API_EVENT = 2  # event, participants
SCHEDULE_XLSX = 5  # event, participants, meetings, 2 names
AGENDA = 6  # event, participants, meetings, 2 names, need titles
REPORT = 6  # event, participants, meetings, 2 names, needs' chains


def test_event_page_reads_each_thing_once(
    client: TestClient, organizer: TestClient, world: dict, statements: Statements
) -> None:
    few = make_event(client, world, 1)
    many = make_event(client, world, MEETINGS)
    seen = statements.of(organizer, f"/organizer/events/{many}")
    assert len(seen) <= EVENT_PAGE, listing(seen)
    tables = reads(seen)
    for table in ("events", "event_participants", "event_pairs", "meetings", "chains"):
        assert tables.get(table) == 1, (table, listing(seen))
    assert tables.get("taxonomy_versions") == 1, listing(seen)
    assert len(statements.of(organizer, f"/organizer/events/{few}")) == len(seen)


def test_schedule_page_is_flat(
    client: TestClient, organizer: TestClient, world: dict, statements: Statements
) -> None:
    few = make_event(client, world, 1)
    many = make_event(client, world, MEETINGS)
    seen = statements.of(organizer, f"/organizer/events/{many}/schedule")
    assert len(seen) <= SCHEDULE_PAGE, listing(seen)
    assert reads(seen).get("events") == 1, listing(seen)
    assert len(statements.of(organizer, f"/organizer/events/{few}/schedule")) == len(seen)


def test_event_lists_do_not_grow_with_the_events(
    client: TestClient, organizer: TestClient, world: dict, statements: Statements
) -> None:
    make_event(client, world, 1)
    api_one = statements.of(client, "/api/v1/events")
    console_one = statements.of(organizer, "/organizer/events")
    for i in range(9):
        make_event(client, world, title=f"计数对接会{i}")
    api_ten = statements.of(client, "/api/v1/events")
    console_ten = statements.of(organizer, "/organizer/events")
    assert len(api_ten) == len(api_one) <= API_LIST, listing(api_ten)
    assert len(console_ten) == len(console_one) <= CONSOLE_LIST, listing(console_ten)
    # Still right: every event counts its own participants.
    items = client.get("/api/v1/events", params={"limit": 100}).json()["items"]
    assert len(items) == 10 and {(e["leaders"], e["smes"]) for e in items} == {(2, MEETINGS)}


def test_a_participant_s_events_do_not_grow_with_the_events(
    client: TestClient, world: dict, statements: Statements
) -> None:
    leader = world["leaders"][0]["id"]
    web = account(client, "leader.count", "leader", leader_id=leader)
    make_event(client, world, 1)
    one = statements.of(web, "/leader/events")
    for i in range(4):
        make_event(client, world, MEETINGS, title=f"计数对接会{i}")
    more = statements.of(web, "/leader/events")
    assert len(more) == len(one), listing(more)
    assert reads(more).get("meetings") == 1, listing(more)


def test_reading_one_event(client: TestClient, world: dict, statements: Statements) -> None:
    event_id = make_event(client, world, MEETINGS)
    seen = statements.of(client, f"/api/v1/events/{event_id}")
    assert len(seen) <= API_EVENT, listing(seen)


@pytest.mark.parametrize(
    ("name", "path", "params", "most"),
    [
        ("schedule xlsx", "schedule", {"format": "xlsx"}, SCHEDULE_XLSX),
        ("agenda ics", "agenda", {"format": "ics"}, AGENDA),
        ("agenda html", "agenda", {}, AGENDA),
        ("report", "report", {}, REPORT),
    ],
)
def test_exports_do_not_grow_with_the_meetings(
    client: TestClient,
    world: dict,
    statements: Statements,
    name: str,
    path: str,
    params: dict,
    most: int,
) -> None:
    few = make_event(client, world, 1)
    many = make_event(client, world, MEETINGS)
    if path == "agenda":
        # The leader with a meeting (a need) in each slot.
        params = {**params, "party": f"L{world['leaders'][0]['id']}"}
    seen = statements.of(client, f"/api/v1/events/{many}/{path}", **params)
    assert len(seen) <= most, listing(seen)
    assert len(statements.of(client, f"/api/v1/events/{few}/{path}", **params)) == len(seen)


def test_the_summary_does_not_grow_with_the_events(
    client: TestClient, world: dict, statements: Statements
) -> None:
    make_event(client, world, 1)
    one = statements.of(client, "/api/v1/reports/summary")
    for i in range(3):
        make_event(client, world, MEETINGS, title=f"计数对接会{i}")
    more = statements.of(client, "/api/v1/reports/summary")
    assert len(more) == len(one) <= 3, listing(more)  # events, meetings, needs' chains
    items = client.get("/api/v1/reports/summary").json()["items"]
    assert sum(i["meetings_planned"] for i in items) == 1 + 3 * MEETINGS


def test_the_taxonomy_is_read_once_per_session(session, statements: Statements) -> None:
    from app.config import PROJECT_ROOT
    from app.services import taxonomy

    with statements() as seen:
        first = taxonomy.list_chains(session, None)
        book = taxonomy.CodeBook.load(session)
        version = taxonomy.resolve_version(session)
    # version, chains with their sub-chains and links, the book's chains and links
    assert len(seen) == 6, listing(seen)
    with statements() as seen:
        assert taxonomy.list_chains(session, None) == first
        assert taxonomy.CodeBook.load(session) is book
        assert taxonomy.resolve_version(session) is version
    assert seen == []
    # A load in the same session forgets what was read.
    path = sorted((PROJECT_ROOT / "data" / "chains").glob("*.json"))[0]
    taxonomy.load_taxonomy_file(session, path, make_current=False)
    with statements() as seen:
        assert taxonomy.resolve_version(session) is version
    assert len(seen) == 1
