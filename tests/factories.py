"""Payload builders for API tests; valid credit codes are computed, not hard-coded."""

import itertools
from typing import Any

from matching.uscc import check_character

_serial = itertools.count(1)


def uscc(division: str = "370200") -> str:
    """A fresh valid unified social credit code."""
    body = f"91{division}{next(_serial):09d}"
    return body + check_character(body)


def sme_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": f"青岛恒瑞精密机械有限公司{next(_serial)}",
        "uscc": uscc(),
        "city": "青岛市",
        "county": "城阳区",
        "size_class": "小型",
        "tier": "专精特新中小企业",
        "products": [
            {"name": "转向架构架焊接件", "niche": "轨道交通焊接构架", "capacity": "年产1200套"},
            "制动夹钳铸件",
        ],
        "processes": ["机器人焊接", "整体退火", "五轴数控加工"],
        "certifications": ["ISO9001:2015", "CRCC"],
        "invention_patents": 6,
        "utility_patents": 21,
        "rd_share": 5.2,
        "chains": ["equipment"],
        "links": [],
        "leaders_supplied": ["中车青岛四方机车车辆"],
        "description": "专业从事轨道交通转向架构架焊接与机加工，拥有焊接机器人12台。",
        "contact_name": "王经理",
        "contact_phone": "0532-80000001",
        "contact_email": "sales@hengrui.example.cn",
    }
    payload.update(overrides)
    return payload


def leader_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": f"测试链主集团{next(_serial)}",
        "city": "青岛市",
        "chains": ["equipment"],
        "description": "轨道交通装备整车制造",
        "contact_name": "张经理",
        "contact_phone": "0532-80000002",
    }
    payload.update(overrides)
    return payload


def demand_payload(leader_id: int, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "leader_id": leader_id,
        "title": "高铁转向架构架焊接件配套",
        "description": "面向时速350公里动车组，采购转向架构架焊接件，需整体退火消除应力。",
        "chain": "equipment",
        "demand_type": "产品配套",
        "keywords": ["转向架", "构架", "焊接"],
        "specification": "材质Q345E，-40℃冲击功≥34J",
        "quantity": 800,
        "unit": "套/年",
        "budget": {"min": 200, "max": 500},
        "required_certifications": [{"name": "CRCC", "must": True}, "ISO 9001"],
        "region_preference": "省内优先",
        "min_tier": "专精特新中小企业",
        "valid_until": "2027-06-30",
    }
    payload.update(overrides)
    return payload
