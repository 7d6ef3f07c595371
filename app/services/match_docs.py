"""Stored rows (and validated inputs) as the matcher's documents."""

import hashlib
from typing import Any

from matching.documents import (
    CertRequirement,
    DemandDoc,
    LinkDoc,
    ProfileDoc,
    demand_text,
    link_text,
    profile_passages,
    profile_text,
)
from models import ChainLink, Demand, SmeProfile


def text_hash(text: str) -> str:
    """Identity of a text version."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# Fields of an SME profile the matcher never reads: changing one leaves its document as it is
# (tests/app/test_field_registry.py checks this list against SmeCreate both ways).
SME_UNMATCHED_FIELDS = frozenset(
    {
        "uscc",
        "county",
        "size_class",
        "utility_patents",
        "rd_share",
        "export",
        "contact_name",
        "contact_phone",
        "contact_email",
    }
)


def _profile_doc(
    doc_id: int | str,
    name: str,
    city: str | None,
    certifications: frozenset[str],
    chains: frozenset[str],
    links: frozenset[str],
    profile: Any,
) -> ProfileDoc:
    """The one mapping to a ProfileDoc; `profile` is a stored row or a validated SmeCreate."""
    return ProfileDoc(
        id=doc_id,
        name=name,
        products=tuple(p.name for p in profile.products),
        niches=tuple(p.niche for p in profile.products if p.niche),
        capacities=tuple(p.capacity for p in profile.products if p.capacity),
        processes=tuple(profile.processes or ()),
        certifications=certifications,
        description=profile.description or "",
        city=city,
        tier=str(profile.tier),
        chains=chains,
        links=links,
        leaders_supplied=tuple(profile.leaders_supplied or ()),
        invention_patents=profile.invention_patents or 0,
    )


def profile_doc(sme: SmeProfile) -> ProfileDoc:
    """An SME profile row as a ProfileDoc."""
    ent = sme.enterprise
    return _profile_doc(
        sme.id,
        ent.name,
        ent.city,
        frozenset(c.name for c in sme.certifications),
        frozenset(c.code for c in sme.chains),
        frozenset(x.code for x in sme.links),
        sme,
    )


# Fields of a need the matcher never reads (checked against DemandCreate like the above).
DEMAND_UNMATCHED_FIELDS = frozenset(
    {"budget", "lead_time_days", "contact_name", "contact_phone", "contact_email"}
)


def _demand_doc(
    doc_id: int | str,
    chain: str | None,
    link: str | None,
    certifications: tuple[CertRequirement, ...],
    region: tuple[str, tuple[str, ...]],
    leader: tuple[str | None, str | None],
    demand: Any,
) -> DemandDoc:
    """The one mapping to a DemandDoc; `need` is a stored row or a validated DemandCreate."""
    return DemandDoc(
        id=doc_id,
        title=demand.title,
        description=demand.description or "",
        keywords=tuple(demand.keywords or ()),
        specification=demand.specification,
        material_process=demand.material_process,
        chain=chain,
        link=link,
        demand_type=str(demand.demand_type),
        certifications=certifications,
        region_scope=region[0],
        region_cities=region[1],
        leader_name=leader[0],
        leader_city=leader[1],
        min_tier=str(demand.min_tier) if demand.min_tier else None,
        quantity=demand.quantity,
        unit=demand.unit,
        status=str(demand.status),
        valid_until=demand.valid_until,
    )


def demand_doc(d: Demand) -> DemandDoc:
    """A need row as a DemandDoc."""
    ent = d.leader.enterprise if d.leader else None
    return _demand_doc(
        d.id,
        d.chain.code if d.chain else None,
        d.link.code if d.link else None,
        tuple(
            CertRequirement(c["name"], bool(c.get("must", True)))
            for c in d.required_certifications or []
        ),
        (d.region_scope or "any", tuple(d.region_cities or ())),
        (ent.name, ent.city) if ent else (None, None),
        d,
    )


def link_doc(link: ChainLink) -> LinkDoc:
    """A taxonomy link as a LinkDoc."""
    return LinkDoc(
        code=link.code,
        chain=link.chain.code,
        chain_name=link.chain.name,
        name=link.name,
        sub_chain_name=link.sub_chain.name if link.sub_chain else "",
        stage=link.stage,
        keywords=tuple(link.keywords or ()),
        description=link.description or "",
    )


def sme_match_text(sme: SmeProfile) -> str:
    """The text that stands for a profile (placement, lexical signal)."""
    return profile_text(profile_doc(sme))


# Passages of one profile are stored as one row of vectors; no passage holds a newline
# (profile_text and product_texts collapse whitespace), so it joins and splits them losslessly.
PASSAGE_SEPARATOR = "\n"


def sme_encoding_text(sme: SmeProfile) -> str:
    """Everything encoded for a profile (its text, then each product), as one string.

    Its hash is the profile's `match_text_hash`: a new product or a changed name re-encodes.
    """
    return PASSAGE_SEPARATOR.join(profile_passages(profile_doc(sme)))


def split_passages(text: str) -> list[str]:
    """The passages of `sme_encoding_text`."""
    return text.split(PASSAGE_SEPARATOR)


def demand_match_text(d: Demand) -> str:
    return demand_text(demand_doc(d))


def link_match_text(link: ChainLink) -> str:
    return link_text(link_doc(link))


def profile_doc_from_input(data: Any, doc_id: int | str) -> ProfileDoc:
    """A validated SmeCreate as a ProfileDoc (for evaluation without a database)."""
    return _profile_doc(
        doc_id,
        data.name,
        data.city,
        frozenset(data.certifications),
        frozenset(data.chains),
        frozenset(data.links),
        data,
    )


def demand_doc_from_input(
    data, doc_id, leader_name: str | None, leader_city: str | None
) -> DemandDoc:
    """A validated DemandCreate as a DemandDoc (for evaluation without a database)."""
    region = data.region_preference
    return _demand_doc(
        doc_id,
        data.chain,
        data.link,
        tuple(CertRequirement(c.name, c.must) for c in data.required_certifications),
        (str(region.scope), tuple(region.cities)) if region else ("any", ()),
        (leader_name, leader_city),
        data,
    )
