"""Reasons for a suggested pair, in Chinese, from its features."""

from matching.documents import DemandDoc, ProfileDoc
from matching.features import PairFeatures
from matching.vocab import TIER_LABELS, Tier

_REGION = {
    "preferred_city": "位于需求方优先的{city}",
    "in_province": "位于省内（{city}）",
    "same_city": "与链主同在{city}",
    "outside": "不在需求方偏好的地区（{city}）",
}


def reasons(
    f: PairFeatures,
    demand: DemandDoc,
    profile: ProfileDoc,
    link_names: dict[str, str] | None = None,
) -> list[str]:
    """Chinese sentences saying why the pair was suggested and what is missing."""
    link_names = link_names or {}
    out: list[str] = []
    if f.matched_terms:
        out.append("匹配关键词：" + "、".join(f.matched_terms[:8]))
    if profile.products:
        out.append("主营产品：" + "、".join(profile.products[:4]))
    if f.certs_missing_must:
        out.append("缺少必备资质：" + "、".join(f.certs_missing_must) + "（不满足准入条件）")
    if f.certs_held:
        out.append("具备资质：" + "、".join(f.certs_held))
    if f.certs_missing_preferred:
        out.append("缺少优先资质：" + "、".join(f.certs_missing_preferred))
    if demand.link and f.link_note in ("declared", "suggested"):
        name = link_names.get(demand.link, demand.link)
        how = "已登记" if f.link_note == "declared" else "经智能归类属于"
        out.append(f"产业链环节一致：{how}“{name}”")
    elif f.link_note == "placement":
        out.append("产业链环节归类相近")
    elif f.link_note == "chain":
        out.append("同属需求所在产业链")
    if f.region_note and profile.city:
        out.append(_REGION[f.region_note].format(city=profile.city))
    if f.tier_note and profile.tier:
        label = TIER_LABELS[Tier(profile.tier)]
        if f.tier_note == "below" and demand.min_tier:
            out.append(f"企业梯度为{label}，低于要求的{TIER_LABELS[Tier(demand.min_tier)]}")
        else:
            out.append(f"企业梯度{label}，满足要求")
    if f.capacity_note == "enough":
        out.append("产能可满足需求量")
    elif f.capacity_note == "short":
        out.append("产能可能不足需求量")
    if f.supplied_note:
        out.append(f"已为{f.supplied_note}配套")
    if profile.invention_patents and demand.demand_type in ("technology", "substitution"):
        out.append(f"拥有发明专利{profile.invention_patents}项")
    return out
