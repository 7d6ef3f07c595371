import pytest

from matching import vocab


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ISO9001:2015", "ISO 9001"),
        ("iso 9001质量管理体系认证", "ISO 9001"),
        ("IATF16949", "IATF 16949"),
        ("中国船级社工厂认可", "CCS"),
        ("CCS", "CCS"),
        ("GJB9001C-2017", "GJB 9001C"),
        ("YY/T 0287-ISO13485", "ISO 13485"),
        ("3C认证", "CCC"),
        ("CRCC铁路产品认证", "CRCC"),
        ("AS9100D", "AS9100"),
        ("GB/T 19001-2016", "ISO 9001"),
        ("GB/T 24001", "ISO 14001"),
        ("EN15085-2 CL1", "EN 15085"),
        ("CCS工厂认可", "CCS"),
    ],
)
def test_certifications_normalise(typed: str, canonical: str) -> None:
    assert vocab.normalize_certification(typed) == canonical
    assert vocab.is_known_certification(canonical)


def test_unknown_certification_is_kept_tidy() -> None:
    assert vocab.normalize_certification("  绿色工厂  认证 ") == "绿色工厂 认证"
    assert not vocab.is_known_certification("绿色工厂 认证")


def test_cities() -> None:
    assert len(vocab.SHANDONG_CITIES) == 16
    assert vocab.parse_city("青岛") == "青岛市"
    assert vocab.parse_city(" 济南市 ") == "济南市"
    assert vocab.parse_city("省外") == vocab.OUT_OF_PROVINCE
    with pytest.raises(ValueError):
        vocab.parse_city("苏州市")


def test_tiers_accept_labels_and_codes() -> None:
    assert vocab.parse_tier('专精特新"小巨人"') == vocab.Tier.LITTLE_GIANT
    assert vocab.parse_tier("专精特新“小巨人”") == vocab.Tier.LITTLE_GIANT
    assert vocab.parse_tier("LITTLE_GIANT") == vocab.Tier.LITTLE_GIANT
    assert vocab.parse_tier("单项冠军") == vocab.Tier.CHAMPION
    assert vocab.TIER_RANK[vocab.Tier.CHAMPION] > vocab.TIER_RANK[vocab.Tier.INNOVATIVE]
    with pytest.raises(ValueError):
        vocab.parse_tier("大型企业")


def test_lifecycle() -> None:
    s = vocab.DemandStatus
    assert vocab.can_transition(s.DRAFT, s.PUBLISHED)
    assert vocab.can_transition(s.PUBLISHED, s.DOCKING)
    assert vocab.can_transition(s.INTENTION, s.SIGNED)
    assert vocab.can_transition(s.SIGNED, s.SIGNED)
    assert not vocab.can_transition(s.DRAFT, s.SIGNED)
    assert not vocab.can_transition(s.SIGNED, s.DRAFT)
    assert not vocab.can_transition(s.CLOSED, s.SIGNED)
    # every status can reach closed except closed itself, and nothing reaches draft from signed
    for status in s:
        if status != s.CLOSED:
            assert vocab.can_transition(status, s.CLOSED)


def test_a_certificate_is_never_turned_into_another_standard() -> None:
    """Issue 14, data bug 3: "ISO 3834-2" was stored as EN 15085. Spellings of one standard and
    its identical national adoptions (GB/T 19001 = ISO 9001) are one name; a different or a
    withdrawn predecessor standard stays as typed."""
    from matching.vocab import normalize_certification as norm

    for typed in ("ISO 3834-2", "ISO/TS 16949", "OHSAS 18001", "API 6D", "ASME U", "GB/T 28001"):
        assert norm(typed) == typed, typed
    same = {
        "ISO9001:2015": "ISO 9001",
        "GB/T 19001-2016": "ISO 9001",
        "EN15085-2": "EN 15085",
        "IATF16949:2016": "IATF 16949",
        "GB/T 45001-2020": "ISO 45001",
        "ISO/TS 22163": "IRIS",
        "API认证": "API",
    }
    for typed, canonical in same.items():
        assert norm(typed) == canonical, typed
