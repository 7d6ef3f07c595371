"""One field, one declaration: the create schema of a record is its field registry.

The update schemas and the services' field lists are derived from it; the import columns and
the matching documents are checked against it here. Each table below must name every field of
the schema, so a new field fails these tests until it has a sample value, an import column and
a decision on whether the matcher reads it (CONTRIBUTING.md walks through it).
"""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.schemas.demand import DemandCreate, DemandUpdate
from app.schemas.event import EventCreate, EventUpdate
from app.schemas.sme import SmeCreate, SmeUpdate
from app.services import imports, match_docs
from tests.factories import leader_payload, uscc

# Every field of SmeCreate, in the form the API reads it back.
SME_FULL: dict[str, Any] = {
    "name": "青岛登记全字段精密机械有限公司",
    "uscc": "",  # filled per test: codes are unique
    "city": "青岛市",
    "county": "城阳区",
    "size_class": "small",
    "tier": "little_giant",
    "products": [
        {
            "name": "转向架构架焊接件",
            "niche": "轨道交通焊接构架",
            "capacity": "年产1200套",
            "market_share": "国内约15%",
        }
    ],
    "processes": ["机器人焊接", "整体退火"],
    "certifications": ["ISO 9001", "CRCC"],
    "invention_patents": 6,
    "utility_patents": 21,
    "rd_share": 5.2,
    "chains": ["equipment"],
    "links": ["equipment-07"],
    "leaders_supplied": ["中车青岛四方机车车辆"],
    "export": True,
    "description": "专业从事轨道交通转向架构架焊接与机加工。",
    "contact_name": "王经理",
    "contact_phone": "0532-80000001",
    "contact_email": "sales@registry.example.cn",
}
# Another value of every field, for one-field edits.
SME_OTHER: dict[str, Any] = {
    "name": "青岛登记全字段精密机械股份有限公司",
    "uscc": "",
    "city": "烟台市",
    "county": "芝罘区",
    "size_class": "medium",
    "tier": "champion",
    "products": [
        {
            "name": "制动夹钳铸件",
            "niche": "制动系统铸件",
            "capacity": "年产500套",
            "market_share": "约8%",
        }
    ],
    "processes": ["精密铸造"],
    "certifications": ["IATF 16949"],
    "invention_patents": 7,
    "utility_patents": 22,
    "rd_share": 6.5,
    "chains": ["equipment", "new-energy"],
    "links": ["equipment-08"],
    "leaders_supplied": ["潍柴动力"],
    "export": False,
    "description": "新能源汽车底盘铸件。",
    "contact_name": "李经理",
    "contact_phone": "0535-80000002",
    "contact_email": "li@registry.example.cn",
}

DEMAND_FULL: dict[str, Any] = {
    "leader_id": 0,  # filled per test
    "title": "高铁转向架构架焊接件配套",
    "description": "面向时速350公里动车组，采购转向架构架焊接件。",
    "chain": "equipment",
    "link": "equipment-07",
    "demand_type": "supply",
    "keywords": ["转向架", "构架"],
    "specification": "材质Q345E",
    "material_process": "焊接+整体退火",
    "quantity": 800.0,
    "unit": "套/年",
    "budget": {"min": 200.0, "max": 500.0, "negotiable": False, "unit": "万元"},
    "required_certifications": [
        {"name": "CRCC", "must": True},
        {"name": "ISO 9001", "must": False},
    ],
    "region_preference": {"scope": "cities", "scope_label": "指定城市优先", "cities": ["青岛市"]},
    "min_tier": "specialized",
    "lead_time_days": 90,
    "valid_until": "2027-06-30",
    "status": "published",
    "contact_name": "张经理",
    "contact_phone": "0532-80000002",
    "contact_email": "zhang@leader.example.cn",
}
DEMAND_OTHER: dict[str, Any] = {
    "title": "制动夹钳铸件配套",
    "description": "采购制动夹钳铸件。",
    # Before the chain: a link must belong to the need's chain.
    "link": None,
    "chain": "new-energy",
    "demand_type": "technology",
    "keywords": ["制动"],
    "specification": "QT500-7",
    "material_process": "精密铸造",
    "quantity": 100.0,
    "unit": "件/年",
    "budget": {"min": None, "max": None, "negotiable": True, "unit": "万元"},
    "required_certifications": [{"name": "IATF 16949", "must": True}],
    "region_preference": {"scope": "province", "scope_label": "省内优先", "cities": []},
    "min_tier": "little_giant",
    "lead_time_days": 30,
    "valid_until": "2027-12-31",
    "status": "draft",
    "contact_name": "赵经理",
    "contact_phone": "0531-80000003",
    "contact_email": "zhao@leader.example.cn",
}

EVENT_FULL: dict[str, Any] = {
    "title": "轨道交通装备产业链供需对接会",
    "chains": ["equipment"],
    "date": "2027-03-18",
    "venue": "青岛国际会展中心",
    "organizer": "青岛市工业和信息化局",
    "start_time": "09:30",
    "meeting_minutes": 25,
    "gap_minutes": 10,
    "slot_count": 8,
    "breaks": [{"start": "12:00", "end": "13:00", "title": "午餐"}],
    "tables": 6,
    "leader_fixed_table": False,
    "notes": "请携带产品样本",
}
EVENT_OTHER: dict[str, Any] = {
    "title": "新能源汽车产业链供需对接会",
    "chains": ["new-energy"],
    "date": "2027-04-20",
    "venue": "烟台会展中心",
    "organizer": "烟台市工业和信息化局",
    "start_time": "10:00",
    "meeting_minutes": 20,
    "gap_minutes": 5,
    "slot_count": 10,
    "breaks": [],
    "tables": 8,
    "leader_fixed_table": True,
    "notes": "",
    "status": "scheduled",
}
# Fields whose API name differs from the schema attribute.
EVENT_ALIASES = {"event_date": "date"}

SKIP = {"version"}


def _names(model: Any) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def test_every_table_names_every_field() -> None:
    """A field added to a create schema needs a sample here (and the checks below)."""
    assert set(SME_FULL) == _names(SmeCreate)
    assert set(SME_OTHER) == _names(SmeUpdate) - SKIP
    assert set(DEMAND_FULL) == _names(DemandCreate)
    assert set(DEMAND_OTHER) == _names(DemandUpdate) - SKIP
    assert set(EVENT_FULL) == _names(EventCreate)
    assert set(EVENT_OTHER) == _names(EventUpdate) - SKIP


def test_update_schemas_are_derived_from_the_create_schemas() -> None:
    assert _names(SmeUpdate) == _names(SmeCreate) | {"version"}
    assert _names(DemandUpdate) == _names(DemandCreate) - {"leader_id"} | {"version"}
    assert _names(EventUpdate) == _names(EventCreate) | {"status", "version"}
    for model in (SmeUpdate, DemandUpdate, EventUpdate):
        assert all(not info.is_required() for info in model.model_fields.values())


def _ok(response: Any, code: int = 200) -> dict[str, Any]:
    assert response.status_code == code, response.text
    return response.json()


def _same(read: dict[str, Any], expected: dict[str, Any], fields: set[str]) -> None:
    for name in fields:
        assert read[name] == expected[name], name


def _sme(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    full = {**SME_FULL, "uscc": uscc()}
    return full, _ok(client.post("/api/v1/smes", json=full), 201)


def test_every_sme_field_is_stored_and_each_updates_alone(client: TestClient) -> None:
    full, created = _sme(client)
    _same(created, full, set(full))
    _same(_ok(client.get(f"/api/v1/smes/{created['id']}")), full, set(full))
    before = created
    for name, value in SME_OTHER.items():
        value = uscc() if name == "uscc" else value
        after = _ok(client.patch(f"/api/v1/smes/{created['id']}", json={name: value}))
        assert after[name] == value, name
        # A link implies its chain: the chains may grow, nothing else changes.
        unchanged = set(full) - {name} - ({"chains"} if name == "links" else set())
        _same(after, before, unchanged)
        before = after


def _demand_input(values: dict[str, Any]) -> dict[str, Any]:
    """The API input of a need as it is read back (budget and region carry read-only parts)."""
    data = dict(values)
    if data.get("budget"):
        data["budget"] = {k: v for k, v in data["budget"].items() if k != "unit"}
    if data.get("region_preference"):
        region = data["region_preference"]
        data["region_preference"] = {"scope": region["scope"], "cities": region["cities"]}
    return data


def test_every_demand_field_is_stored_and_each_updates_alone(client: TestClient) -> None:
    leader = _ok(client.post("/api/v1/leaders", json=leader_payload()), 201)
    full = {**DEMAND_FULL, "leader_id": leader["id"]}
    created = _ok(client.post("/api/v1/demands", json=_demand_input(full)), 201)
    _same(created, full, set(full))
    before = created
    for name, value in DEMAND_OTHER.items():
        sent = _demand_input({name: value})
        after = _ok(client.patch(f"/api/v1/demands/{created['id']}", json=sent))
        assert after[name] == value, name
        _same(after, before, set(full) - {name})
        before = after


def test_every_event_field_is_stored_and_each_updates_alone(client: TestClient) -> None:
    created = _ok(client.post("/api/v1/events", json=EVENT_FULL), 201)
    _same(created, EVENT_FULL, set(EVENT_FULL))
    before = created
    for name, value in EVENT_OTHER.items():
        after = _ok(client.patch(f"/api/v1/events/{created['id']}", json={name: value}))
        assert after[name] == value, name
        _same(after, before, set(EVENT_FULL) - {name})
        before = after


# -- import columns ---------------------------------------------------------------------------

# Import columns that stand for a field in another shape.
DEMAND_COLUMN_FIELDS = {
    "leader": "leader_id",
    "leader_uscc": "leader_id",
    "leader_no": "leader_id",
    "must_certifications": "required_certifications",
    "preferred_certifications": "required_certifications",
}


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(v["name"] if isinstance(v, dict) else str(v) for v in value)
    return "" if value is None else str(value)


def test_the_import_columns_cover_every_field_and_read_back() -> None:
    """A sheet with every column reads into the same SmeCreate as the API's JSON."""
    assert {c.field for c in imports.SME_COLUMNS} == set(SmeCreate.model_fields)
    demand_fields = {DEMAND_COLUMN_FIELDS.get(c.field, c.field) for c in imports.DEMAND_COLUMNS}
    assert demand_fields == set(DemandCreate.model_fields)

    full = {**SME_FULL, "uscc": uscc()}
    sheet = io.StringIO()
    writer = csv.writer(sheet)
    writer.writerow([c.header for c in imports.SME_COLUMNS])
    writer.writerow([_cell(full[c.field]) for c in imports.SME_COLUMNS])
    header, rows = imports.read_table("smes.csv", sheet.getvalue().encode(), 10)
    (payload,) = imports.to_payloads(header, rows, imports.SME_COLUMNS)
    from_sheet = SmeCreate.model_validate(payload).model_dump()
    from_json = SmeCreate.model_validate(full).model_dump()
    # A sheet lists product names only; their niche, capacity and share come by API or form.
    from_json["products"] = [
        {**p, "niche": None, "capacity": None, "market_share": None} for p in from_json["products"]
    ]
    assert from_sheet == from_json


# -- matching documents -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SmeCreate.model_fields))
def test_each_sme_field_is_matched_or_declared_unmatched(name: str) -> None:
    full = SmeCreate.model_validate({**SME_FULL, "uscc": uscc()})
    other = SmeCreate.model_validate(
        {**SME_FULL, "uscc": uscc(), name: SME_OTHER[name] if name != "uscc" else uscc()}
    )
    changed = match_docs.profile_doc_from_input(full, 1) != match_docs.profile_doc_from_input(
        other, 1
    )
    assert changed == (name not in match_docs.SME_UNMATCHED_FIELDS), name


@pytest.mark.parametrize("name", sorted(set(DemandCreate.model_fields) - {"leader_id"}))
def test_each_demand_field_is_matched_or_declared_unmatched(name: str) -> None:
    def doc(values: dict[str, Any]) -> Any:
        data = DemandCreate.model_validate(_demand_input({**values, "leader_id": 1}))
        return match_docs.demand_doc_from_input(data, 1, None, None)

    changed = doc(DEMAND_FULL) != doc({**DEMAND_FULL, name: DEMAND_OTHER[name]})
    assert changed == (name not in match_docs.DEMAND_UNMATCHED_FIELDS), name
