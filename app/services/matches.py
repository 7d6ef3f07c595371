"""Match use cases: ranked SMEs for a need, needs for an SME, free-text search, placement."""

from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput, NotFound, found
from app.repositories import demands as demand_repo
from app.repositories import smes as sme_repo
from app.schemas.match import (
    ChainCoverage,
    DemandMatch,
    FreeTextMatch,
    LinkCoverage,
    LinkSupplier,
    PlacementRead,
    SmeMatch,
)
from app.services import match_docs
from app.services import taxonomy as taxonomy_service
from app.services.matching import MatchingRuntime
from matching.documents import CertRequirement, DemandDoc, demand_text
from matching.matcher import DemandFilter, Match, ProfileFilter
from matching.vocab import normalize_certification
from models import Demand, SmeProfile


def _scored(m: Match) -> dict:
    """What a match item says of the ranking: score, rank, breakdown, reasons, and the need's
    required certificates split into held and missing (must ones first)."""
    f = m.features
    return {
        "score": m.score,
        "rank": m.rank,
        "eligible": not f.certs_missing_must,
        "components": m.components,
        "reasons": m.reasons,
        "matched_terms": f.matched_terms,
        "certifications_held": list(f.certs_held),
        "certifications_missing": [*f.certs_missing_must, *f.certs_missing_preferred],
        "certifications_missing_must": list(f.certs_missing_must),
    }


def _sme_item(runtime: MatchingRuntime, m: Match) -> SmeMatch:
    p = runtime.matcher.profiles[m.id]
    return SmeMatch(sme_id=m.id, name=p.name, city=p.city, tier=p.tier, **_scored(m))


def _demand(session: Session, demand_id: int) -> Demand:
    missing = NotFound(f"need {demand_id} not found", f"需求 {demand_id} 不存在")
    return found(demand_repo.get(session, demand_id), missing)


def _sme(session: Session, sme_id: int) -> SmeProfile:
    missing = NotFound(f"SME profile {sme_id} not found", f"中小企业档案 {sme_id} 不存在")
    return found(sme_repo.get(session, sme_id), missing)


def demand_matches(
    session: Session,
    runtime: MatchingRuntime,
    demand_id: int,
    limit: int,
    where: ProfileFilter,
    include_ineligible: bool = True,
) -> list[SmeMatch]:
    """SMEs that can meet a need, best first."""
    demand = _demand(session, demand_id)
    demand = runtime.matcher.demands.get(demand.id) or match_docs.demand_doc(demand)
    # Never encode on the read path: a need still in the encoding queue ranks by wording and
    # structure until its vector lands.
    vector = runtime.matcher.demand_vectors.vector(demand.id)
    ranked = runtime.matcher.rank_profiles(
        demand,
        vector,
        k=limit,
        where=where if where.active else None,
        exclude_ineligible=not include_ineligible,
    )
    return [_sme_item(runtime, m) for m in ranked]


def sme_matches(
    session: Session, runtime: MatchingRuntime, sme_id: int, limit: int, include_closed: bool
) -> list[DemandMatch]:
    """Needs an SME can serve, best first (open needs only unless asked)."""
    sme = _sme(session, sme_id)
    profile = runtime.matcher.profiles.get(sme.id) or match_docs.profile_doc(sme)
    vector = runtime.matcher.profile_vectors.vector(sme.id)
    today = date.today()
    ranked = runtime.matcher.rank_demands(
        profile, vector, k=limit, where=None if include_closed else DemandFilter(open_on=today)
    )
    demands = runtime.matcher.demands
    leader_ids = demand_repo.leader_ids(session, [m.id for m in ranked])
    return [
        DemandMatch(
            demand_id=m.id,
            title=demands[m.id].title,
            leader_id=leader_ids.get(m.id),
            leader_name=demands[m.id].leader_name,
            **_scored(m),
        )
        for m in ranked
    ]


def free_text_matches(
    session: Session, runtime: MatchingRuntime, query: FreeTextMatch
) -> list[SmeMatch]:
    """SMEs for an organizer's free-text search with optional structure and filters."""
    errors: list[FieldError] = []
    book = taxonomy_service.CodeBook.load(session)
    chain, link = book.chain_and_link(query.chain, query.link, errors)
    if errors:
        raise InvalidInput(errors)
    region = query.region_preference
    demand = DemandDoc(
        id="query",
        title=query.text,
        keywords=tuple(query.keywords),
        chain=chain.code if chain else None,
        link=link.code if link else None,
        certifications=tuple(
            CertRequirement(c.name, c.must) for c in query.required_certifications
        ),
        region_scope=str(region.scope) if region else "any",
        region_cities=tuple(region.cities) if region else (),
        min_tier=str(query.min_tier) if query.min_tier else None,
    )
    vector = runtime.encoder.encode_queries([demand_text(demand)])[0]
    where = ProfileFilter(
        city=query.city,
        tier=str(query.tier) if query.tier else None,
        certification=normalize_certification(query.certification) if query.certification else None,
    )
    ranked = runtime.matcher.rank_profiles(
        demand, vector, k=query.limit, where=where if where.active else None
    )
    return [_sme_item(runtime, m) for m in ranked]


def _placements(runtime: MatchingRuntime, text: str, vector, k: int) -> list[PlacementRead]:
    placer = runtime.matcher.placer
    if placer is None:
        return []
    return [
        PlacementRead.of(p, link=p.code, matched_keywords=list(p.matched_keywords))
        for p in placer.place(text, vector, k=k)
    ]


def sme_placement(
    session: Session, runtime: MatchingRuntime, sme_id: int, k: int
) -> list[PlacementRead]:
    """Suggested chain links of an SME profile, with scores."""
    sme = _sme(session, sme_id)
    vector = runtime.matcher.profile_vectors.vector(sme.id)
    return _placements(runtime, match_docs.sme_match_text(sme), vector, k)


def demand_placement(
    session: Session, runtime: MatchingRuntime, demand_id: int, k: int
) -> list[PlacementRead]:
    """Suggested chain links of a need, with scores."""
    demand = _demand(session, demand_id)
    vector = runtime.matcher.demand_vectors.vector(demand.id)
    return _placements(runtime, match_docs.demand_match_text(demand), vector, k)


def link_suppliers(
    session: Session, runtime: MatchingRuntime, chain_code: str, link_code: str, limit: int
) -> list[LinkSupplier]:
    """Suppliers of a link: those that declare it first, then those placement suggests."""
    taxonomy_service.get_link(session, chain_code, link_code)
    matcher = runtime.matcher
    declared = [p for p in matcher.profiles.values() if link_code in p.links]
    suggested = [
        p
        for key, p in matcher.profiles.items()
        if link_code not in p.links and link_code in matcher.profile_links.get(key, ())
    ]
    scores = _link_scores(runtime, link_code, [p.id for p in declared + suggested])
    rows = [
        LinkSupplier.of(p, sme_id=p.id, declared=p in declared, score=scores.get(p.id))
        for p in declared + suggested
    ]
    rows.sort(key=lambda r: (not r.declared, -(r.score or 0.0), r.sme_id))
    return rows[:limit]


def _link_scores(runtime: MatchingRuntime, link_code: str, ids: list) -> dict:
    placer = runtime.matcher.placer
    if placer is None or not ids:
        return {}
    column = next(i for i, x in enumerate(placer.links_) if x.code == link_code)
    texts = [runtime.matcher.profile_texts[i] for i in ids]
    vectors = [runtime.matcher.profile_vectors.vector(i) for i in ids]
    out = {}
    with_vec = [i for i, v in zip(ids, vectors, strict=True) if v is not None]
    if with_vec and len(with_vec) == len(ids):
        scores = placer.scores_many(texts, np.stack(vectors))
    else:
        scores = placer.scores_many(texts, None)
    for row, key in enumerate(ids):
        out[key] = round(float(scores[row, column]), 4)
    return out


def chain_coverage(session: Session, runtime: MatchingRuntime, chain_code: str) -> ChainCoverage:
    """Per link of a chain: declared and suggested suppliers and open needs; weak links."""
    chain = taxonomy_service.get_chain(session, chain_code, None)
    matcher = runtime.matcher
    today = date.today()
    declared: dict[str, int] = {}
    suggested: dict[str, int] = {}
    for key, p in matcher.profiles.items():
        for code in p.links:
            declared[code] = declared.get(code, 0) + 1
        for code in matcher.profile_links.get(key, ()):
            if code not in p.links:
                suggested[code] = suggested.get(code, 0) + 1
    demands: dict[str, int] = {}
    for demand in matcher.demands.values():
        if demand.link and demand.is_open(today):
            demands[demand.link] = demands.get(demand.link, 0) + 1
    links = [link for sub in chain.sub_chains for link in sub.links] + chain.links
    rows = [
        LinkCoverage(
            link=x.code,
            name=x.name,
            stage=x.stage,
            sub_chain=x.sub_chain,
            declared_suppliers=declared.get(x.code, 0),
            suggested_suppliers=suggested.get(x.code, 0),
            open_demands=demands.get(x.code, 0),
            weak=declared.get(x.code, 0) + suggested.get(x.code, 0) == 0,
        )
        for x in links
    ]
    return ChainCoverage(
        chain=chain.code,
        name=chain.name,
        links=rows,
        weak_links=[r.link for r in rows if r.weak],
    )
