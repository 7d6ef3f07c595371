"""Controlled vocabularies of the domain: tiers, need types, statuses, cities, certificates.

Each vocabulary maps a stable English code to its Chinese label and accepts either on input.
"""

import re
import unicodedata
from enum import StrEnum


class Vocabulary(StrEnum):
    """A vocabulary: each member is its stable code, declared with its Chinese label."""

    label: str

    def __new__(cls, code: str, label: str) -> "Vocabulary":
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict["Vocabulary", str]:
        """Member -> Chinese label, in declaration order."""
        return {member: member.label for member in cls}


class Tier(Vocabulary):
    """SME tier ladder; higher index means a higher rung."""

    INNOVATIVE = "innovative", "创新型中小企业"
    SPECIALIZED = "specialized", "专精特新中小企业"
    LITTLE_GIANT = "little_giant", "专精特新“小巨人”"
    CHAMPION = "champion", "制造业单项冠军"


TIER_LABELS = Tier.labels()
TIER_RANK = {t: i for i, t in enumerate(Tier)}


class DemandType(Vocabulary):
    """Kind of need a chain leader posts."""

    SUPPLY = "supply", "产品配套"
    TECHNOLOGY = "technology", "技术攻关"
    CAPACITY = "capacity", "产能协作"
    SUBSTITUTION = "substitution", "国产替代"
    SERVICE = "service", "服务"


DEMAND_TYPE_LABELS = DemandType.labels()


class DemandStatus(Vocabulary):
    """Lifecycle of a need."""

    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"
    DOCKING = "docking", "对接中"
    INTENTION = "intention", "达成意向"
    SIGNED = "signed", "已签约"
    CLOSED = "closed", "已关闭"


DEMAND_STATUS_LABELS = DemandStatus.labels()

# Allowed moves of the lifecycle; a closed need may be re-published, a signed one only closed.
DEMAND_TRANSITIONS: dict[DemandStatus, frozenset[DemandStatus]] = {
    DemandStatus.DRAFT: frozenset({DemandStatus.PUBLISHED, DemandStatus.CLOSED}),
    DemandStatus.PUBLISHED: frozenset(
        {DemandStatus.DRAFT, DemandStatus.DOCKING, DemandStatus.CLOSED}
    ),
    DemandStatus.DOCKING: frozenset(
        {DemandStatus.PUBLISHED, DemandStatus.INTENTION, DemandStatus.CLOSED}
    ),
    DemandStatus.INTENTION: frozenset(
        {DemandStatus.DOCKING, DemandStatus.SIGNED, DemandStatus.CLOSED}
    ),
    DemandStatus.SIGNED: frozenset({DemandStatus.CLOSED}),
    DemandStatus.CLOSED: frozenset({DemandStatus.PUBLISHED}),
}


def can_transition(current: DemandStatus, target: DemandStatus) -> bool:
    """True when a need may move from `current` to `target` (staying put is allowed)."""
    return current == target or target in DEMAND_TRANSITIONS[current]


class SizeClass(Vocabulary):
    """Enterprise size class (大中小微, per the statistical standard)."""

    MICRO = "micro", "微型"
    SMALL = "small", "小型"
    MEDIUM = "medium", "中型"
    LARGE = "large", "大型"


SIZE_CLASS_LABELS = SizeClass.labels()


class Stage(Vocabulary):
    """Position of a link in its chain."""

    UPSTREAM = "upstream", "上游"
    MIDSTREAM = "midstream", "中游"
    DOWNSTREAM = "downstream", "下游"


STAGE_LABELS = Stage.labels()


class RegionScope(Vocabulary):
    """Where a leader prefers its suppliers to be."""

    ANY = "any", "不限"
    PROVINCE = "province", "省内优先"
    CITIES = "cities", "指定城市优先"


REGION_SCOPE_LABELS = RegionScope.labels()

# The 16 prefecture-level cities of Shandong with their administrative division codes.
SHANDONG_CITIES: dict[str, str] = {
    "济南市": "3701",
    "青岛市": "3702",
    "淄博市": "3703",
    "枣庄市": "3704",
    "东营市": "3705",
    "烟台市": "3706",
    "潍坊市": "3707",
    "济宁市": "3708",
    "泰安市": "3709",
    "威海市": "3710",
    "日照市": "3711",
    "临沂市": "3713",
    "德州市": "3714",
    "聊城市": "3715",
    "滨州市": "3716",
    "菏泽市": "3717",
}
OUT_OF_PROVINCE = "省外"
CITIES = (*SHANDONG_CITIES, OUT_OF_PROVINCE)
_CITY_ALIASES = {name.removesuffix("市"): name for name in SHANDONG_CITIES} | {
    "外省": OUT_OF_PROVINCE,
    "山东省外": OUT_OF_PROVINCE,
}


def _label_parser(enum: type[Vocabulary], extra: dict[str, str] | None = None):
    """A parser that takes a member's code or its label (or an alias of the label)."""
    lookup: dict[str, Vocabulary] = {}
    for member in enum:
        lookup[member.value] = member
        lookup[_squash(member.label)] = member
    for alias, code in (extra or {}).items():
        lookup[_squash(alias)] = enum(code)

    def parse(value: str) -> Vocabulary:
        key = _squash(value)
        if key.lower() in lookup:
            return lookup[key.lower()]
        if key in lookup:
            return lookup[key]
        raise ValueError(value)

    return parse


def _squash(text: str) -> str:
    """NFKC, no spaces or quotes: '专精特新"小巨人"' and '专精特新小巨人' compare equal."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\"'“”‘’「」]", "", text)


parse_tier = _label_parser(
    Tier,
    {
        "创新型": "innovative",
        "专精特新": "specialized",
        "小巨人": "little_giant",
        "国家级专精特新小巨人": "little_giant",
        "单项冠军": "champion",
        "单项冠军企业": "champion",
    },
)
parse_demand_type = _label_parser(DemandType, {"配套": "supply", "服务需求": "service"})
parse_demand_status = _label_parser(DemandStatus, {"意向": "intention"})
parse_size_class = _label_parser(SizeClass, {"微": "micro", "小": "small"})
parse_stage = _label_parser(Stage)


def parse_city(value: str) -> str:
    """Normalise a city name to its full form ('青岛' -> '青岛市'); raise ValueError if unknown."""
    key = _squash(value)
    if key in CITIES:
        return key
    if key in _CITY_ALIASES:
        return _CITY_ALIASES[key]
    raise ValueError(value)


# Certificates that decide eligibility by chain; the canonical spelling comes first.
KNOWN_CERTIFICATIONS: dict[str, str] = {
    "ISO 9001": "质量管理体系",
    "IATF 16949": "汽车质量管理体系",
    "ISO 14001": "环境管理体系",
    "ISO 45001": "职业健康安全管理体系",
    "ISO 13485": "医疗器械质量管理体系",
    "ISO 27001": "信息安全管理体系",
    "ISO 50001": "能源管理体系",
    "AS9100": "航空航天质量管理体系",
    "GJB 9001C": "武器装备质量管理体系",
    "CRCC": "中铁检验认证(铁路产品认证)",
    "EN 15085": "轨道车辆焊接体系认证",
    "IRIS": "国际铁路行业标准 ISO/TS 22163",
    "CCS": "中国船级社认可",
    "DNV": "挪威船级社认可",
    "ABS": "美国船级社认可",
    "LR": "英国劳氏船级社认可",
    "BV": "法国船级社认可",
    "CCC": "中国强制性产品认证",
    "CE": "欧盟CE认证",
    "UL": "美国UL认证",
    "GMP": "药品生产质量管理规范",
    "FDA": "美国FDA注册/认证",
    "API": "美国石油学会认证",
    "ASME": "美国机械工程师协会认证",
    "CMMI": "能力成熟度模型集成",
    "OEKO-TEX": "生态纺织品认证",
    "GRS": "全球回收标准",
    "FSC": "森林管理委员会认证",
    "HACCP": "危害分析与关键控制点",
    "特种设备制造许可证": "特种设备制造许可",
    "武器装备科研生产许可证": "武器装备科研生产许可",
    "高新技术企业": "高新技术企业认定",
}

# Spellings of one standard, and its identical national adoptions (GB/T 19001 is ISO 9001),
# map to one name; a different standard, or a withdrawn predecessor (ISO/TS 16949, OHSAS 18001),
# never does: a need asking for one must not count another as met.
_CERT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"IATF\s*-?\s*16949"), "IATF 16949"),
    (re.compile(r"ISO\s*/?\s*TS\s*22163|IRIS"), "IRIS"),
    (re.compile(r"ISO\s*-?\s*9001|GB/?T\s*-?\s*19001|质量管理体系认证$"), "ISO 9001"),
    (re.compile(r"ISO\s*-?\s*14001|GB/?T\s*-?\s*24001|环境管理体系"), "ISO 14001"),
    (
        re.compile(r"(?:ISO|GB/?T)\s*-?\s*45001|职业健康安全管理体系认证$"),
        "ISO 45001",
    ),
    (re.compile(r"EN\s*-?\s*15085"), "EN 15085"),
    (re.compile(r"(?:ISO|YY/?T)\s*-?\s*13485|医疗器械质量管理"), "ISO 13485"),
    (re.compile(r"ISO\s*-?\s*27001|信息安全管理体系"), "ISO 27001"),
    (re.compile(r"ISO\s*-?\s*50001|能源管理体系"), "ISO 50001"),
    (re.compile(r"AS\s*-?\s*9100|航空航天质量"), "AS9100"),
    (re.compile(r"GJB\s*-?\s*9001|国军标"), "GJB 9001C"),
    (re.compile(r"CRCC|铁路产品认证|中铁检验"), "CRCC"),
    (re.compile(r"^CCS|中国船级社"), "CCS"),
    (re.compile(r"^DNV|挪威船级社"), "DNV"),
    (re.compile(r"^ABS\b|美国船级社"), "ABS"),
    (re.compile(r"^LR\b|劳氏"), "LR"),
    (re.compile(r"^BV\b|法国船级社"), "BV"),
    (re.compile(r"^(?:3C|CCC)(?:认证)?$|强制性产品认证"), "CCC"),
    (re.compile(r"^CE(?:认证)?$"), "CE"),
    (re.compile(r"^UL(?:认证)?$"), "UL"),
    (re.compile(r"GMP"), "GMP"),
    (re.compile(r"^FDA"), "FDA"),
    (re.compile(r"^API(?:认证)?$"), "API"),
    (re.compile(r"^ASME(?:认证)?$"), "ASME"),
    (re.compile(r"CMMI"), "CMMI"),
    (re.compile(r"OEKO"), "OEKO-TEX"),
    (re.compile(r"^GRS"), "GRS"),
    (re.compile(r"^FSC"), "FSC"),
    (re.compile(r"HACCP"), "HACCP"),
    (re.compile(r"特种设备"), "特种设备制造许可证"),
    (re.compile(r"武器装备科研生产许可"), "武器装备科研生产许可证"),
    (re.compile(r"高新技术企业"), "高新技术企业"),
]


def normalize_certification(raw: str) -> str:
    """Map a typed certificate name to the controlled vocabulary; unknown names are kept tidy."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw)).strip()
    upper = text.upper()
    for pattern, canonical in _CERT_PATTERNS:
        if pattern.search(upper):
            return canonical
    return text


def is_known_certification(name: str) -> bool:
    """True when `name` (already normalised) belongs to the controlled vocabulary."""
    return name in KNOWN_CERTIFICATIONS
