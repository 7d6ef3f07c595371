"""What the matcher sees of a need, an SME profile and a chain link: plain frozen dataclasses."""

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property


@dataclass(frozen=True)
class CertRequirement:
    """A certificate a need asks for; `must` false means a preference."""

    name: str
    must: bool = True


@dataclass(frozen=True)
class ProfileDoc:
    """An SME capability profile."""

    id: int | str
    name: str
    products: tuple[str, ...] = ()
    niches: tuple[str, ...] = ()
    capacities: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    certifications: frozenset[str] = frozenset()
    description: str = ""
    city: str | None = None
    tier: str | None = None
    chains: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()
    leaders_supplied: tuple[str, ...] = ()
    invention_patents: int = 0


@dataclass(frozen=True)
class DemandDoc:
    """A chain leader's need."""

    id: int | str
    title: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    specification: str | None = None
    material_process: str | None = None
    chain: str | None = None
    link: str | None = None
    demand_type: str | None = None
    certifications: tuple[CertRequirement, ...] = ()
    region_scope: str = "any"
    region_cities: tuple[str, ...] = ()
    leader_name: str | None = None
    leader_city: str | None = None
    min_tier: str | None = None
    quantity: float | None = None
    unit: str | None = None
    status: str = "published"
    valid_until: date | None = None

    def open_until(self) -> int:
        """The last day suppliers can answer the need (a date ordinal; -1 when closed)."""
        if self.status not in ("published", "docking"):
            return -1
        return (self.valid_until or date.max).toordinal()

    def is_open(self, today: date) -> bool:
        """True while suppliers can still answer the need."""
        return self.open_until() >= today.toordinal()

    # Cached (read for every candidate of a ranking); a frozen document never changes.
    @cached_property
    def must_certifications(self) -> tuple[str, ...]:
        """Certificates without which a supplier is ineligible."""
        return tuple(c.name for c in self.certifications if c.must)

    @cached_property
    def preferred_certifications(self) -> tuple[str, ...]:
        """Certificates that count in a supplier's favour."""
        return tuple(c.name for c in self.certifications if not c.must)


@dataclass(frozen=True)
class LinkDoc:
    """A link of the chain taxonomy, for placing profiles and needs."""

    code: str
    chain: str
    chain_name: str
    name: str
    sub_chain_name: str = ""
    stage: str = ""
    keywords: tuple[str, ...] = ()
    description: str = ""


_SPACES = re.compile(r"\s+")


def _join(parts: list[str], sep: str = "；") -> str:
    return sep.join(p.strip() for p in parts if p and p.strip())


def profile_text(p: ProfileDoc, max_chars: int = 400) -> str:
    """The text that stands for a profile: products first, then processes and description."""
    head = _join(
        [
            "、".join(p.products),
            "、".join(n for n in p.niches if n),
            "、".join(p.processes),
        ]
    )
    text = _join([p.name, head, p.description])
    return _SPACES.sub(" ", text)[:max_chars]


def product_texts(p: ProfileDoc, limit: int = 50) -> list[str]:
    """One short text per distinct product, for the per-product signals."""
    out = dict.fromkeys(_SPACES.sub(" ", x).strip() for x in p.products)
    return [x for x in out if x][:limit]


def profile_passages(p: ProfileDoc) -> list[str]:
    """Everything encoded for a profile: its whole text first, then each product."""
    return [profile_text(p), *product_texts(p)]


def demand_text(n: DemandDoc, max_chars: int = 400) -> str:
    """The text that stands for a need: title and keywords first, then the details."""
    text = _join(
        [
            n.title,
            "、".join(n.keywords),
            n.description,
            n.specification or "",
            n.material_process or "",
        ]
    )
    return _SPACES.sub(" ", text)[:max_chars]


def link_text(link: LinkDoc) -> str:
    """The text that stands for a chain link."""
    return _join(
        [
            f"{link.chain_name} {link.sub_chain_name} {link.name}",
            "、".join(link.keywords),
            link.description,
        ]
    )
