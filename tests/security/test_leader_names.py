"""Squatting a competitor's name: no leader may take another's registered name, and the needs
import attaches a row only to a leader it names unambiguously."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from models import ChainLeader, Enterprise
from tests.app.test_auth import made
from tests.factories import leader_payload, uscc

DEMANDS_HEAD = "链主企业,需求标题,需求类型,联系人,联系电话"


def upload_demands(client: TestClient, body: str, headers: dict[str, str] | None = None):
    return client.post(
        "/api/v1/import/demands",
        files={"file": ("needs.csv", body.encode("utf-8"))},
        headers=headers,
    )


def rename(client: TestClient, leader_id: int, name: str, headers: dict[str, str] | None = None):
    return client.patch(f"/api/v1/leaders/{leader_id}", json={"name": name}, headers=headers)


@pytest.mark.parametrize(
    "variant",
    [
        "海尔集团（青岛）有限公司",  # the very name
        "海尔集团(青岛)有限公司",  # half-width brackets
        "海尔集团【青岛】有限公司",  # other bracket forms
        " 海尔集团 （青岛） 有限公司 ",  # spaces anywhere
        "海尔集团\u3000（青岛）有限公司",  # ideographic space
        "海尔\u200b集团（青岛）有限公司",  # zero-width space
        "海尔集团\ufe59青岛\ufe5a有限公司",  # small-form brackets
    ],
)
def test_a_leader_cannot_rename_itself_to_another_firms_name(
    world: dict[str, Any], anon_client: TestClient, client: TestClient, variant: str
) -> None:
    haier, squatter = world["leaders"]
    assert made(rename(client, haier["id"], "海尔集团（青岛）有限公司"), 200)
    r = rename(anon_client, squatter["id"], variant, headers=world["leader1"])
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "name" and "海尔集团" in r.json()["message_zh"]
    assert client.get(f"/api/v1/leaders/{squatter['id']}").json()["name"] == squatter["name"]


def test_latin_names_compare_case_and_width_blind(
    world: dict[str, Any], anon_client: TestClient, client: TestClient
) -> None:
    haier, squatter = world["leaders"]
    made(rename(client, haier["id"], "Haier Group"), 200)
    for variant in ("HAIER GROUP", "haiergroup", "Ｈａｉｅｒ　Ｇｒｏｕｐ"):
        r = rename(anon_client, squatter["id"], variant, headers=world["leader1"])
        assert r.status_code == 409, (variant, r.text)


def test_creating_a_leader_under_a_taken_name_is_refused(client: TestClient) -> None:
    made(client.post("/api/v1/leaders", json=leader_payload(name="海尔集团")))
    for variant in ("海尔集团", "海尔集团 ", "海 尔 集 团"):
        r = client.post("/api/v1/leaders", json=leader_payload(name=variant))
        assert r.status_code == 409, r.text
    assert client.get("/api/v1/leaders", params={"q": "海"}).json()["total"] == 1
    # a name of invisible characters only would be a key every such name shares
    r = client.post("/api/v1/leaders", json=leader_payload(name="\u200b\u2060"))
    assert r.status_code == 422, r.text


def test_a_leader_may_keep_or_respace_its_own_name(
    world: dict[str, Any], anon_client: TestClient
) -> None:
    own = world["leaders"][0]
    assert made(rename(anon_client, own["id"], own["name"], headers=world["leader"]), 200)
    spaced = f"{own['name'][:2]} {own['name'][2:]}"
    assert made(rename(anon_client, own["id"], spaced, headers=world["leader"]), 200)
    assert made(rename(anon_client, own["id"], "全新名称集团", headers=world["leader"]), 200)


def _legacy_duplicate(session: Session, leader_id: int, name: str) -> None:
    """A duplicate name stored before names were checked (or by a path that skipped the check)."""
    enterprise_id = session.get(ChainLeader, leader_id).enterprise_id
    session.execute(update(Enterprise).where(Enterprise.id == enterprise_id).values(name=name))
    session.commit()


def test_the_demands_import_never_guesses_between_namesakes(
    world: dict[str, Any], client: TestClient, anon_client: TestClient, session: Session
) -> None:
    haier, squatter = world["leaders"]
    code = uscc()
    made(
        client.patch(f"/api/v1/leaders/{haier['id']}", json={"name": "海尔集团", "uscc": code}), 200
    )
    _legacy_duplicate(session, squatter["id"], "海尔集团 ")
    row = "海尔集团,冰箱压缩机配套,产品配套,海尔采购部,0532-88889999"

    r = upload_demands(client, f"{DEMANDS_HEAD}\n{row}\n")
    assert r.status_code == 422, r.text
    error = r.json()["detail"][0]
    assert error["row"] == 2 and error["column"] == "链主企业"
    assert "链主信用代码" in error["msg_zh"] and "链主编号" in error["msg_zh"]
    assert str(haier["id"]) in error["msg_zh"] and str(squatter["id"]) in error["msg_zh"]

    # named by credit code (the name may be left out, or must agree)
    by_code = made(upload_demands(client, f"{DEMANDS_HEAD},链主信用代码\n{row},{code}\n"))
    demand = client.get(f"/api/v1/demands/{by_code['ids'][0]}").json()
    assert demand["leader_id"] == haier["id"]
    # named by leader id
    by_id = made(upload_demands(client, f"{DEMANDS_HEAD},链主编号\n{row},{haier['id']}\n"))
    assert client.get(f"/api/v1/demands/{by_id['ids'][0]}").json()["leader_id"] == haier["id"]

    # none of Haier's needs went to the squatter
    theirs = client.get("/api/v1/demands", params={"leader_id": squatter["id"]}).json()
    assert "冰箱压缩机配套" not in {d["title"] for d in theirs["items"]}


def test_identifiers_that_disagree_are_a_row_error(
    world: dict[str, Any], client: TestClient
) -> None:
    haier, other = world["leaders"]
    code = uscc()
    made(
        client.patch(f"/api/v1/leaders/{haier['id']}", json={"name": "海尔集团", "uscc": code}), 200
    )
    head = f"{DEMANDS_HEAD},链主信用代码,链主编号"
    rows = [
        f"{other['name']},需求甲,产品配套,张,0532-80000003,{code},",  # name of one, code of another
        f"海尔集团,需求乙,产品配套,张,0532-80000003,,{other['id']}",  # name of one, id of another
        "海尔集团,需求丙,产品配套,张,0532-80000003,,999999",  # an id nobody has
        f",需求丁,产品配套,张,0532-80000003,{uscc()},",  # a code nobody has
        ",需求戊,产品配套,张,0532-80000003,,",  # no leader at all
        "海尔集团,需求己,产品配套,张,0532-80000003,,abc",  # not an id
    ]
    r = upload_demands(client, head + "\n" + "\n".join(rows) + "\n")
    assert r.status_code == 422, r.text
    flagged = {e["row"] for e in r.json()["detail"]}
    assert flagged == {2, 3, 4, 5, 6, 7}
    assert client.get("/api/v1/demands", params={"q": "需求"}).json()["total"] == 0


def test_a_unique_name_still_works_and_is_matched_normalised(
    world: dict[str, Any], client: TestClient
) -> None:
    haier = world["leaders"][0]
    made(client.patch(f"/api/v1/leaders/{haier['id']}", json={"name": "海尔集团（青岛）"}), 200)
    body = f"{DEMANDS_HEAD}\n海尔集团 (青岛),冰箱压缩机配套,产品配套,张,0532-80000003\n"
    created = made(upload_demands(client, body))
    assert client.get(f"/api/v1/demands/{created['ids'][0]}").json()["leader_id"] == haier["id"]


def test_an_sme_profile_sharing_a_leaders_record_cannot_take_another_leaders_name(
    world: dict[str, Any], anon_client: TestClient, client: TestClient
) -> None:
    """A firm that is both a leader and an SME shares one enterprise record: the SME side must
    not rename it to a competitor leader's name either (API, and the bulk upsert by credit code)."""
    from tests.app.test_auth import user
    from tests.factories import sme_payload

    haier = world["leaders"][0]
    made(rename(client, haier["id"], "海尔集团（青岛）有限公司"), 200)
    code = uscc()
    dual = made(client.post("/api/v1/leaders", json=leader_payload(uscc=code, name="双栖科技")))
    sme = made(client.post("/api/v1/smes", json=sme_payload(uscc=code, name="双栖科技")))
    headers = user(client, "dual.sme", "sme", sme_id=sme["id"])
    r = anon_client.patch(
        f"/api/v1/smes/{sme['id']}",
        json={"name": "海尔集团(青岛)有限公司", "version": sme["version"]},
        headers=headers,
    )
    assert r.status_code == 409 and r.json()["field"] == "name", r.text
    bulk = client.post(
        "/api/v1/import/smes?mode=upsert",
        files={
            "file": (
                "smes.csv",
                f"企业名称,统一社会信用代码,所在城市,企业梯度,主营产品\n"
                f"海尔集团（青岛）有限公司,{code},青岛市,小巨人,液压阀\n".encode(),
            )
        },
    )
    assert bulk.status_code in (409, 422), bulk.text
    assert made(client.get(f"/api/v1/leaders/{dual['id']}"), 200)["name"] == "双栖科技"
    # Its own name, or a new one nobody holds, is fine.
    ok = anon_client.patch(
        f"/api/v1/smes/{sme['id']}",
        json={"name": "双栖智能科技", "version": sme["version"]},
        headers=headers,
    )
    assert made(ok, 200)["name"] == "双栖智能科技"
