"""Import jobs: a bulk load queued by the API, run once by a worker, all or nothing."""

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.repositories import import_jobs as repo
from app.services import import_jobs
from models import ImportJob, SmeProfile, utcnow
from tests.factories import demand_payload, leader_payload, sme_payload, uscc

PASSWORD = "correct horse 42"
HEAD = "企业名称,统一社会信用代码,所在城市,企业梯度,主营产品,资质证书,所属产业链代码,是否出口"


def made(r, code: int = 201) -> Any:
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def account(client: TestClient, username: str, role: str) -> dict[str, str]:
    made(
        client.post(
            "/api/v1/users", json={"username": username, "password": PASSWORD, "role": role}
        )
    )
    body = made(
        client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}), 200
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


def work(client: TestClient, session_factory: sessionmaker[Session], settings: Settings, me="w1"):
    """What one worker pass does in an API process: run the next job, apply it to the index."""
    runtime = client.app.state.matching
    return import_jobs.run_next(session_factory, settings, runtime, me, runtime.after_commit)


def test_queued_rows_are_imported_by_the_worker_and_ranked(
    client: TestClient, session_factory, settings, session: Session
) -> None:
    rows = [sme_payload(name=f"青岛导入{i}号精密机械有限公司") for i in range(3)]
    before = session.scalar(select(func.count(SmeProfile.id)))
    r = client.post("/api/v1/import/jobs/smes/rows", json=rows)
    job = made(r, 202)
    assert r.headers["Location"] == f"/api/v1/import/jobs/{job['id']}"
    assert job["status"] == "queued" and job["status_label"] == "排队中"
    assert job["queued_ahead"] == 0 and job["ids"] == []
    # Nothing is stored until the worker runs it.
    assert session.scalar(select(func.count(SmeProfile.id))) == before

    done = work(client, session_factory, settings)
    assert done.id == job["id"] and done.status == "done"
    job = made(client.get(r.headers["Location"]), 200)
    assert job["status"] == "done" and job["created"] == 3 and job["updated"] == 0
    assert job["finished_at"] is not None and job["errors"] == []
    names = [made(client.get(f"/api/v1/smes/{i}"), 200)["name"] for i in job["ids"]]
    assert names == [row["name"] for row in rows]
    # The API process applied the rows to its index at once: they can be ranked.
    assert set(job["ids"]) <= set(client.app.state.matching.matcher.profiles)
    # The upload is not kept twice once its rows are stored.
    assert repo.get(session, job["id"], with_content=True).content == b""
    assert work(client, session_factory, settings) is None


def test_a_bad_row_fails_the_job_with_every_row_reported_and_stores_nothing(
    client: TestClient, session_factory, settings, session: Session
) -> None:
    rows = [
        sme_payload(name="淄博好行一有限公司"),
        sme_payload(name="", city="火星"),
        sme_payload(name="淄博好行三有限公司"),
        sme_payload(name="淄博好行四有限公司", tier="不存在的梯度"),
    ]
    before = session.scalar(select(func.count(SmeProfile.id)))
    job = made(client.post("/api/v1/import/jobs/smes/rows", json=rows), 202)
    assert work(client, session_factory, settings).status == "failed"
    job = made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)
    assert job["status"] == "failed" and job["status_label"] == "未导入"
    assert job["created"] == 0 and job["ids"] == []
    assert {e["row"] for e in job["errors"]} == {1, 3}
    assert all(e["msg_zh"] for e in job["errors"])
    assert session.scalar(select(func.count(SmeProfile.id))) == before


def test_a_file_job_imports_like_the_synchronous_import(
    client: TestClient, session_factory, settings
) -> None:
    code = uscc()
    row = f"青岛甲有限公司,{code},青岛,专精特新中小企业,转向架构架、制动夹钳,ISO9001,equipment,否"
    body = f"{HEAD}\n{row}\n"
    files = {"file": ("smes.csv", body.encode("utf-8-sig"))}
    job = made(client.post("/api/v1/import/jobs/smes", files=files), 202)
    assert job["format"] == "csv" and job["filename"] == "smes.csv"
    work(client, session_factory, settings)
    job = made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)
    assert job["status"] == "done" and job["created"] == 1
    sme = made(client.get(f"/api/v1/smes/{job['ids'][0]}"), 200)
    assert sme["uscc"] == code and [p["name"] for p in sme["products"]] == [
        "转向架构架",
        "制动夹钳",
    ]
    # The same file again as an upsert job updates the profile.
    again = made(client.post("/api/v1/import/jobs/smes?mode=upsert", files=files), 202)
    work(client, session_factory, settings)
    again = made(client.get(f"/api/v1/import/jobs/{again['id']}"), 200)
    assert again["status"] == "done" and (again["created"], again["updated"]) == (0, 1)
    # A bad file is reported by column, as the synchronous import does.
    bad = f"{HEAD}\n,{uscc()},青岛,专精特新中小企业,轴承,,equipment,否\n".encode()
    job = made(client.post("/api/v1/import/jobs/smes", files={"file": ("b.csv", bad)}), 202)
    work(client, session_factory, settings)
    job = made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)
    assert job["status"] == "failed" and job["errors"][0]["column"] == "企业名称"


def test_demand_rows_are_queued_too(client: TestClient, session_factory, settings) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    rows = [demand_payload(leader["id"], title=f"导入需求{i}") for i in range(2)]
    job = made(client.post("/api/v1/import/jobs/demands/rows", json=rows), 202)
    work(client, session_factory, settings)
    job = made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)
    assert job["status"] == "done" and job["created"] == 2
    titles = [made(client.get(f"/api/v1/demands/{i}"), 200)["title"] for i in job["ids"]]
    assert titles == ["导入需求0", "导入需求1"]


def test_bounds_are_checked_when_the_job_is_submitted(client: TestClient, settings) -> None:
    too_many = [{}] * (settings.max_bulk_rows + 1)
    r = client.post("/api/v1/import/jobs/smes/rows", json=too_many)
    assert r.status_code == 422 and "最多" in r.json()["detail"][0]["msg_zh"]
    files = {"file": ("smes.txt", b"name\n")}
    r = client.post("/api/v1/import/jobs/smes", files=files)
    assert r.status_code == 422 and ".xlsx" in r.text
    assert client.post("/api/v1/import/jobs/events/rows", json=[]).status_code == 422
    assert client.get("/api/v1/import/jobs/0").status_code == 422
    assert client.get("/api/v1/import/jobs/99999").status_code == 404


def test_a_job_is_seen_only_by_its_submitter_and_admins(
    client: TestClient, anon_client: TestClient
) -> None:
    mine = account(client, "organizer-a", "organizer")
    theirs = account(client, "organizer-b", "organizer")
    sme = account(client, "sme-user", "sme")
    url = "/api/v1/import/jobs/smes/rows"
    job = made(client.post(url, json=[sme_payload()], headers=mine), 202)
    at = f"/api/v1/import/jobs/{job['id']}"
    assert made(client.get(at, headers=mine), 200)["id"] == job["id"]
    assert made(client.get(at), 200)["id"] == job["id"]  # the admin
    # Another organizer gets the same 404 as for a job that does not exist.
    assert client.get(at, headers=theirs).status_code == 404
    assert [j["id"] for j in made(client.get("/api/v1/import/jobs", headers=mine), 200)] == [
        job["id"]
    ]
    assert made(client.get("/api/v1/import/jobs", headers=theirs), 200) == []
    # Participants and strangers cannot queue or read jobs at all.
    assert client.post(url, json=[sme_payload()], headers=sme).status_code == 403
    assert client.get(at, headers=sme).status_code == 403
    assert anon_client.get(at).status_code == 401


def test_two_workers_never_run_the_same_job(
    client: TestClient, session_factory, settings, session: Session
) -> None:
    first = made(client.post("/api/v1/import/jobs/smes/rows", json=[sme_payload()]), 202)
    second = made(client.post("/api/v1/import/jobs/smes/rows", json=[sme_payload()]), 202)
    assert made(client.get(f"/api/v1/import/jobs/{second['id']}"), 200)["queued_ahead"] == 1
    # Both workers pick the oldest job; the conditional claim lets only one have it.
    with session_factory() as a, session_factory() as b:
        assert repo.claim_next(a, "worker-a") == first["id"]
        a.commit()
        assert repo.claim_next(b, "worker-b") == second["id"]
        b.commit()
        assert repo.claim_next(b, "worker-b") is None
    claimed = dict(session.execute(select(ImportJob.id, ImportJob.claimed_by)).all())
    assert claimed == {first["id"]: "worker-a", second["id"]: "worker-b"}


def test_a_job_left_running_by_a_dead_worker_is_run_again_then_given_up(
    client: TestClient, session_factory, settings, session: Session
) -> None:
    job = made(client.post("/api/v1/import/jobs/smes/rows", json=[sme_payload()]), 202)
    long_ago = utcnow() - import_jobs.STALE_AFTER - timedelta(minutes=1)
    with session_factory() as s:
        assert repo.claim_next(s, "dead-worker") == job["id"]
        s.execute(update(ImportJob).values(started_at=long_ago))
        s.commit()
    # A fresh worker queues it again and runs it: the dead one stored nothing.
    assert work(client, session_factory, settings).status == "done"
    assert made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)["created"] == 1

    job = made(client.post("/api/v1/import/jobs/smes/rows", json=[sme_payload()]), 202)
    with session_factory() as s:
        s.execute(
            update(ImportJob)
            .where(ImportJob.id == job["id"])
            .values(status="running", started_at=long_ago, attempts=import_jobs.MAX_ATTEMPTS)
        )
        s.commit()
    assert work(client, session_factory, settings) is None
    job = made(client.get(f"/api/v1/import/jobs/{job['id']}"), 200)
    assert job["status"] == "failed" and job["errors"][0]["type"] == "worker_lost"


def test_an_idle_poll_writes_nothing(session_factory, settings, connection) -> None:
    """Every worker polls each second: on SQLite a write would take the database's lock."""
    from sqlalchemy import event

    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(connection, "before_cursor_execute", seen)
    try:
        assert import_jobs.run_next(session_factory, settings, None, "idle") is None
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert statements and set(statements) <= {"SELECT", "SAVEPOINT", "RELEASE"}
