import pytest

from matching.documents import CertRequirement, DemandDoc, ProfileDoc
from matching.explain import reasons
from matching.features import FusionWeights, fuse, pair_features
from matching.terms import key_terms, prepare_terms

DEMAND = DemandDoc(
    id=1,
    title="转向架构架焊接件配套",
    keywords=("转向架", "构架焊接"),
    chain="equipment",
    link="equipment-07",
    certifications=(CertRequirement("CRCC", True), CertRequirement("ISO 14001", False)),
    region_scope="cities",
    region_cities=("青岛市",),
    leader_name="中车青岛四方机车车辆股份有限公司",
    min_tier="specialized",
    quantity=500,
    unit="套/年",
)


def profile(**kw) -> ProfileDoc:
    base = dict(
        id=7,
        name="恒瑞",
        products=("转向架构架焊接件",),
        capacities=("年产1200套",),
        certifications=frozenset({"CRCC", "ISO 9001"}),
        city="青岛市",
        tier="little_giant",
        chains=frozenset({"equipment"}),
        links=frozenset({"equipment-07"}),
        leaders_supplied=("中车青岛四方机车车辆",),
    )
    base.update(kw)
    return ProfileDoc(**base)


def features(p: ProfileDoc, text: str = "转向架构架焊接件 机器人焊接"):
    terms = prepare_terms(key_terms(DEMAND.keywords, DEMAND.title))
    return pair_features(DEMAND, p, text, terms, dense=1.0, lexical=0.5)


def test_a_full_fit() -> None:
    f = features(profile())
    assert f.must_missing == 0 and f.certs_missing_must == []
    assert f.certs_missing_preferred == ["ISO 14001"]
    assert f.link == 1.0 and f.region == 1.0 and f.tier == 0.0 and f.tier_note == "meets"
    assert f.capacity == 1.0 and f.supplied == 1.0
    assert "转向架" in f.matched_terms and f.terms > 0.5


def test_gates_and_penalties() -> None:
    f = features(
        profile(
            certifications=frozenset(),
            tier="innovative",
            city="省外",
            capacities=("年产100套",),
            links=frozenset(),
            leaders_supplied=(),
        )
    )
    assert f.must_missing == 1.0 and f.certs_missing_must == ["CRCC"]
    assert f.tier == -1.0 and f.region == 0.0 and f.region_note == "outside"
    assert f.capacity == -0.5 and f.link == 0.4 and f.supplied == 0.0
    w = FusionWeights()
    assert fuse(f, w) < fuse(features(profile()), w) - w.must_missing


def test_suggested_link_counts_less_than_declared() -> None:
    terms = prepare_terms(key_terms(DEMAND.keywords, DEMAND.title))
    p = profile(links=frozenset())
    f = pair_features(DEMAND, p, "", terms, 0, 0, profile_links=frozenset({"equipment-07"}))
    assert f.link == 0.7 and f.link_note == "suggested"


def test_components_sum_to_the_score() -> None:
    f = features(profile())
    w = FusionWeights()
    assert sum(f.components(w).values()) == pytest.approx(fuse(f, w), abs=1e-3)


def test_weights_from_config() -> None:
    w = FusionWeights.from_dict({"dense": 2.0})
    assert w.dense == 2.0 and w.lexical == FusionWeights().lexical
    with pytest.raises(ValueError, match="unknown weight"):
        FusionWeights.from_dict({"dnese": 1.0})


def test_reasons_in_chinese() -> None:
    p = profile(certifications=frozenset({"ISO 9001"}), tier="innovative")
    text = " ".join(reasons(features(p), DEMAND, p, {"equipment-07": "转向架"}))
    assert "缺少必备资质：CRCC" in text
    assert "低于要求的专精特新中小企业" in text
    assert "产业链环节一致：已登记“转向架”" in text
    assert "位于需求方优先的青岛市" in text
    assert "匹配关键词：转向架" in text
