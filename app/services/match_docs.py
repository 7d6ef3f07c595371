"""Stored rows (and validated inputs) as the matcher's documents."""

import hashlib

from matching.documents import (
    CertRequirement,
    LinkDoc,
    NeedDoc,
    ProfileDoc,
    link_text,
    need_text,
    profile_passages,
    profile_text,
)
from models import ChainLink, Demand, SmeProfile


def text_hash(text: str) -> str:
    """Identity of a text version."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def profile_doc(sme: SmeProfile) -> ProfileDoc:
    """An SME profile row as a ProfileDoc."""
    ent = sme.enterprise
    return ProfileDoc(
        id=sme.id,
        name=ent.name,
        products=tuple(p.name for p in sme.products),
        niches=tuple(p.niche for p in sme.products if p.niche),
        capacities=tuple(p.capacity for p in sme.products if p.capacity),
        processes=tuple(sme.processes or ()),
        certifications=frozenset(c.name for c in sme.certifications),
        description=sme.description or "",
        city=ent.city,
        tier=sme.tier,
        chains=frozenset(c.code for c in sme.chains),
        links=frozenset(x.code for x in sme.links),
        leaders_supplied=tuple(sme.leaders_supplied or ()),
        invention_patents=sme.invention_patents or 0,
    )


def need_doc(d: Demand) -> NeedDoc:
    """A need row as a NeedDoc."""
    ent = d.leader.enterprise if d.leader else None
    return NeedDoc(
        id=d.id,
        title=d.title,
        description=d.description or "",
        keywords=tuple(d.keywords or ()),
        specification=d.specification,
        material_process=d.material_process,
        chain=d.chain.code if d.chain else None,
        link=d.link.code if d.link else None,
        need_type=d.need_type,
        certifications=tuple(
            CertRequirement(c["name"], bool(c.get("must", True)))
            for c in d.required_certifications or []
        ),
        region_scope=d.region_scope or "any",
        region_cities=tuple(d.region_cities or ()),
        leader_name=ent.name if ent else None,
        leader_city=ent.city if ent else None,
        min_tier=d.min_tier,
        quantity=d.quantity,
        unit=d.unit,
        status=d.status,
        valid_until=d.valid_until,
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
    return need_text(need_doc(d))


def link_match_text(link: ChainLink) -> str:
    return link_text(link_doc(link))


def profile_doc_from_input(data, doc_id) -> ProfileDoc:
    """A validated SmeCreate as a ProfileDoc (for evaluation without a database)."""
    return ProfileDoc(
        id=doc_id,
        name=data.name,
        products=tuple(p.name for p in data.products),
        niches=tuple(p.niche for p in data.products if p.niche),
        capacities=tuple(p.capacity for p in data.products if p.capacity),
        processes=tuple(data.processes),
        certifications=frozenset(data.certifications),
        description=data.description,
        city=data.city,
        tier=str(data.tier),
        chains=frozenset(data.chains),
        links=frozenset(data.links),
        leaders_supplied=tuple(data.leaders_supplied),
        invention_patents=data.invention_patents,
    )


def need_doc_from_input(data, doc_id, leader_name: str | None, leader_city: str | None) -> NeedDoc:
    """A validated DemandCreate as a NeedDoc (for evaluation without a database)."""
    region = data.region_preference
    return NeedDoc(
        id=doc_id,
        title=data.title,
        description=data.description,
        keywords=tuple(data.keywords),
        specification=data.specification,
        material_process=data.material_process,
        chain=data.chain,
        link=data.link,
        need_type=str(data.need_type),
        certifications=tuple(CertRequirement(c.name, c.must) for c in data.required_certifications),
        region_scope=str(region.scope) if region else "any",
        region_cities=tuple(region.cities) if region else (),
        leader_name=leader_name,
        leader_city=leader_city,
        min_tier=str(data.min_tier) if data.min_tier else None,
        quantity=data.quantity,
        unit=data.unit,
        status=str(data.status),
        valid_until=data.valid_until,
    )
