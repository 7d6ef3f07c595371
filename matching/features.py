"""Pair features of a need and an SME profile, and the fusion weights that combine them."""

import re
from dataclasses import asdict, dataclass, fields

from matching.documents import DemandDoc, ProfileDoc
from matching.terms import TermSet, term_matches
from matching.vocab import OUT_OF_PROVINCE, TIER_RANK, Tier


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the signals, learned by `chainmatch tune` (pairwise logistic regression).

    The four text signals enter as per-query z-scores against the whole corpus (the best
    profiles sit around 3-8); the structured ones lie in [-1, 1]. The defaults were fitted on
    the train splits of data/eval-real and data/eval (see README, "Matching quality").
    """

    dense: float = 0.4335
    dense_product: float = 0.8506
    lexical: float = 0.2005
    lexical_product: float = 0.0959
    terms: float = 1.6722
    link: float = 3.3379
    certificates: float = 2.3407
    # A stated minimum tier is the user's rule, not a learned preference: the fit gave it
    # ~0 (the sets rarely grade on it), so it keeps a floor (matching.tuning.FLOORS).
    tier: float = 1.0
    region: float = 4.4832
    capacity: float = 0.7608
    supplied: float = 1.0722
    # Subtracted when a must certificate is missing: large enough to sink the profile.
    must_missing: float = 7.5648

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> "FusionWeights":
        """Weights from a mapping; unknown keys are an error, missing ones keep defaults."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown weight(s): {', '.join(sorted(unknown))}")
        return cls(**{**asdict(cls()), **data})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


COMPONENTS = (
    "dense",
    "dense_product",
    "lexical",
    "lexical_product",
    "terms",
    "link",
    "certificates",
    "tier",
    "region",
    "capacity",
    "supplied",
    "must_missing",
)


@dataclass
class PairFeatures:
    """Every signal of one pair, plus what the explanation needs."""

    dense: float
    dense_product: float
    lexical: float
    lexical_product: float
    terms: float
    link: float
    certificates: float
    tier: float
    region: float
    capacity: float
    supplied: float
    must_missing: float
    matched_terms: list[str]
    certs_held: list[str]
    certs_missing_must: list[str]
    certs_missing_preferred: list[str]
    link_note: str | None
    region_note: str | None
    tier_note: str | None
    capacity_note: str | None
    supplied_note: str | None

    def vector(self) -> list[float]:
        """Component values in the order of COMPONENTS (must_missing as a 0/1 flag)."""
        return [getattr(self, name) for name in COMPONENTS]

    def components(self, weights: FusionWeights) -> dict[str, float]:
        """Each component's contribution to the score."""
        out = {}
        for name in COMPONENTS:
            sign = -1.0 if name == "must_missing" else 1.0
            out[name] = round(sign * getattr(weights, name) * getattr(self, name), 4)
        return out


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(万|千|百)?\s*([^\d\s，,。；;、/]{1,3})?")
_SCALE = {"万": 1e4, "千": 1e3, "百": 1e2, None: 1.0}


def _capacity_values(capacities: tuple[str, ...]) -> list[tuple[float, str]]:
    out = []
    for text in capacities:
        for number, scale, unit in _NUMBER.findall(text or ""):
            out.append((float(number) * _SCALE.get(scale or None, 1.0), (unit or "")[:1]))
    return out


def _unit_head(unit: str | None) -> str:
    return (unit or "").strip()[:1]


def pair_features(
    demand: DemandDoc,
    profile: ProfileDoc,
    profile_text: str,
    terms: TermSet,
    dense: float,
    lexical: float,
    demand_links: frozenset[str] = frozenset(),
    profile_links: frozenset[str] = frozenset(),
    dense_product: float = 0.0,
    lexical_product: float = 0.0,
) -> PairFeatures:
    """All signals of a (need, profile) pair.

    The four text signals come already normalised per query (`*_product`: the profile's best
    single product against the need); `demand_links` and `profile_links` are the suggested
    placements used when a side declares no link.
    """
    matched = term_matches(terms, profile_text)
    coverage = len(matched) / len(terms) if terms else 0.0

    # Chain link agreement: declared links count fully, suggested placements partly.
    link, link_note = 0.0, None
    p_links = profile.links or profile_links
    declared = bool(profile.links)
    if demand.link and demand.link in p_links:
        link = 1.0 if declared else 0.7
        link_note = "declared" if declared else "suggested"
    elif demand.link is None and demand_links and demand_links & p_links:
        link = 0.6 if declared else 0.4
        link_note = "placement"
    elif demand.chain and demand.chain in profile.chains:
        link = 0.4
        link_note = "chain"

    held = sorted(
        set(demand.must_certifications + demand.preferred_certifications) & profile.certifications
    )
    missing_must = [c for c in demand.must_certifications if c not in profile.certifications]
    missing_pref = [c for c in demand.preferred_certifications if c not in profile.certifications]
    prefs = demand.preferred_certifications
    cert = (len(prefs) - len(missing_pref)) / len(prefs) if prefs else 0.0
    if demand.must_certifications and not missing_must:
        cert += 0.5

    tier, tier_note = 0.0, None
    if demand.min_tier and profile.tier:
        if TIER_RANK[Tier(profile.tier)] < TIER_RANK[Tier(demand.min_tier)]:
            tier, tier_note = -1.0, "below"
        else:
            tier_note = "meets"

    region, region_note = 0.0, None
    in_province = profile.city is not None and profile.city != OUT_OF_PROVINCE
    if demand.region_scope == "cities" and demand.region_cities:
        if profile.city in demand.region_cities:
            region, region_note = 1.0, "preferred_city"
        elif in_province:
            region, region_note = 0.3, "in_province"
        else:
            region_note = "outside"
    elif demand.region_scope == "province":
        region, region_note = (1.0, "in_province") if in_province else (0.0, "outside")
    elif demand.leader_city and profile.city == demand.leader_city:
        region, region_note = 0.3, "same_city"

    capacity, capacity_note = 0.0, None
    if demand.quantity and demand.unit:
        head = _unit_head(demand.unit)
        values = [v for v, u in _capacity_values(profile.capacities) if u and u == head]
        if values:
            if max(values) >= demand.quantity:
                capacity, capacity_note = 1.0, "enough"
            else:
                capacity, capacity_note = -0.5, "short"

    supplied, supplied_note = 0.0, None
    if demand.leader_name:
        for name in profile.leaders_supplied:
            if name and (name in demand.leader_name or demand.leader_name in name):
                supplied, supplied_note = 1.0, name
                break

    return PairFeatures(
        dense=dense,
        dense_product=dense_product,
        lexical=lexical,
        lexical_product=lexical_product,
        terms=coverage,
        link=link,
        certificates=cert,
        tier=tier,
        region=region,
        capacity=capacity,
        supplied=supplied,
        must_missing=1.0 if missing_must else 0.0,
        matched_terms=matched,
        certs_held=held,
        certs_missing_must=missing_must,
        certs_missing_preferred=missing_pref,
        link_note=link_note,
        region_note=region_note,
        tier_note=tier_note,
        capacity_note=capacity_note,
        supplied_note=supplied_note,
    )


def fuse(features: PairFeatures, weights: FusionWeights) -> float:
    """The one score of a pair."""
    return (
        weights.dense * features.dense
        + weights.dense_product * features.dense_product
        + weights.lexical * features.lexical
        + weights.lexical_product * features.lexical_product
        + weights.terms * features.terms
        + weights.link * features.link
        + weights.certificates * features.certificates
        + weights.tier * features.tier
        + weights.region * features.region
        + weights.capacity * features.capacity
        + weights.supplied * features.supplied
        - weights.must_missing * features.must_missing
    )
