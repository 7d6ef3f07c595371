"""The chain taxonomy: loading versioned data files, reading, resolving codes."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.errors import FieldError, NotFound
from app.repositories import taxonomy as repo
from app.schemas.chain import (
    ChainDetail,
    ChainSummary,
    LinkRead,
    ReferenceLeader,
    SubChainRead,
    TaxonomyVersionRead,
)
from matching import vocab
from models import Chain, ChainLink, SubChain, TaxonomyVersion


@dataclass
class LoadStats:
    """What a taxonomy load created or changed."""

    version: str
    chains: int = 0
    sub_chains: int = 0
    links: int = 0
    created: int = 0
    updated: int = 0


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _or_new(session: Session, stats: LoadStats, found: Any, model: type, **keys: Any) -> Any:
    """The row found, or a new row of `model` with these keys (counted as created)."""
    if found is not None:
        return found
    row = model(**keys)
    session.add(row)
    stats.created += 1
    return row


def _set(obj: Any, stats: LoadStats, **values: Any) -> None:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    if changed and obj.id is not None:
        stats.updated += 1


# session.info key: what a session has read of the taxonomy (versions, chain lists, the code
# book), each with the version it belongs to. A page that shows the chains in several places,
# or an import that resolves codes row by row, reads them once per request; a load forgets it.
_READ = "taxonomy_read"


def _once(session: Session, key: tuple, read: Callable[[], tuple[TaxonomyVersion, Any]]) -> Any:
    """What `read` returns (a version and a value of it), read once per session."""
    memo = session.info.setdefault(_READ, {})
    if key in memo and memo[key][0] in session:
        return memo[key][1]
    version, value = read()
    memo[key] = (version, value)
    return value


def load_taxonomy(session: Session, data: dict[str, Any], make_current: bool) -> LoadStats:
    """Upsert one taxonomy version by its codes; loading the same data twice changes nothing."""
    session.info.pop(_READ, None)
    try:
        return _load_taxonomy(session, data, make_current)
    finally:
        session.info.pop(_READ, None)


def _load_taxonomy(session: Session, data: dict[str, Any], make_current: bool) -> LoadStats:
    meta = data["version"]
    stats = LoadStats(version=meta["code"])
    found = repo.get_version(session, meta["code"])
    version = _or_new(session, stats, found, TaxonomyVersion, code=meta["code"])
    _set(
        version,
        stats,
        name=meta["name"],
        valid_from=_date(meta.get("valid_from")),
        valid_to=_date(meta.get("valid_to")),
        source=meta.get("source", ""),
    )
    if make_current:
        for other, _ in repo.list_versions(session):
            if other is not version and other.is_current:
                other.is_current = False
        version.is_current = True
    session.flush()

    existing = {c.code: c for c in repo.list_chains(session, version.id)}
    for c_pos, c_data in enumerate(data["chains"]):
        chain = _or_new(
            session,
            stats,
            existing.get(c_data["code"]),
            Chain,
            taxonomy_version_id=version.id,
            code=c_data["code"],
        )
        _set(
            chain,
            stats,
            name=c_data["name"],
            description=c_data.get("description", ""),
            reference_leaders=c_data.get("leaders", []),
            position=c_pos,
        )
        session.flush()
        stats.chains += 1
        subs = {s.code: s for s in chain.sub_chains}
        links = {link.code: link for link in chain.links}
        link_pos = 0
        for s_pos, s_data in enumerate(c_data.get("sub_chains", [])):
            found = subs.get(s_data["code"])
            sub = _or_new(session, stats, found, SubChain, chain_id=chain.id, code=s_data["code"])
            _set(sub, stats, name=s_data["name"], position=s_pos)
            session.flush()
            stats.sub_chains += 1
            for l_data in s_data.get("links", []):
                _upsert_link(session, stats, chain, sub, links, l_data, link_pos)
                link_pos += 1
        for l_data in c_data.get("links", []):
            _upsert_link(session, stats, chain, None, links, l_data, link_pos)
            link_pos += 1
    session.flush()
    return stats


def _upsert_link(
    session: Session,
    stats: LoadStats,
    chain: Chain,
    sub: SubChain | None,
    links: dict[str, ChainLink],
    data: dict[str, Any],
    position: int,
) -> None:
    link = _or_new(
        session, stats, links.get(data["code"]), ChainLink, chain_id=chain.id, code=data["code"]
    )
    links[link.code] = link
    _set(
        link,
        stats,
        sub_chain_id=sub.id if sub else None,
        stage=str(vocab.parse_stage(data["stage"])),
        name=data["name"],
        keywords=list(data.get("keywords", [])),
        gbt_classes=[str(c) for c in data.get("gbt_classes", [])],
        description=data.get("description", ""),
        position=position,
    )
    stats.links += 1


def load_taxonomy_file(session: Session, path: Path, make_current: bool) -> LoadStats:
    """Load a taxonomy JSON file."""
    return load_taxonomy(session, json.loads(path.read_text(encoding="utf-8")), make_current)


def load_taxonomy_dir(session: Session, directory: Path, current: str) -> list[LoadStats]:
    """Load every taxonomy file of a folder; the version coded `current` becomes current."""
    out = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(load_taxonomy(session, data, make_current=data["version"]["code"] == current))
    return out


def resolve_version(session: Session, code: str | None = None) -> TaxonomyVersion:
    """The named taxonomy version, or the current one (read once per session)."""

    def read() -> tuple[TaxonomyVersion, TaxonomyVersion]:
        version = repo.get_version(session, code) if code else repo.current_version(session)
        if version is None:
            if code:
                raise NotFound(f"Unknown taxonomy version {code!r}", f"产业链版本“{code}”不存在")
            raise NotFound("No chain taxonomy is loaded", "尚未加载产业链图谱")
        return version, version

    return _once(session, ("version", code or None), read)


def list_versions(session: Session) -> list[TaxonomyVersionRead]:
    """All taxonomy versions."""
    return [
        TaxonomyVersionRead(
            code=v.code,
            name=v.name,
            valid_from=v.valid_from,
            valid_to=v.valid_to,
            source=v.source,
            is_current=v.is_current,
            chain_count=n,
        )
        for v, n in repo.list_versions(session)
    ]


def _summary(chain: Chain, version: TaxonomyVersion) -> dict[str, Any]:
    """What a chain's summary and its detail both show."""
    return {
        "code": chain.code,
        "name": chain.name,
        "description": chain.description,
        "taxonomy_version": version.code,
        "sub_chain_count": len(chain.sub_chains),
        "link_count": len(chain.links),
    }


def list_chains(session: Session, version_code: str | None) -> list[ChainSummary]:
    """Chains of a version with their sizes (read once per session)."""

    def read() -> tuple[TaxonomyVersion, list[ChainSummary]]:
        version = resolve_version(session, version_code)
        chains = repo.list_chains(session, version.id)
        return version, [ChainSummary(**_summary(c, version)) for c in chains]

    return list(_once(session, ("chains", version_code or None), read))


def get_chain(session: Session, code: str, version_code: str | None) -> ChainDetail:
    """One chain with its sub-chains and links."""
    version = resolve_version(session, version_code)
    chain = repo.get_chain(session, version.id, code)
    if chain is None:
        raise NotFound(f"Unknown chain {code!r}", f"产业链“{code}”不存在")
    return ChainDetail(
        **_summary(chain, version),
        reference_leaders=[ReferenceLeader(**x) for x in chain.reference_leaders or []],
        sub_chains=[
            SubChainRead(code=s.code, name=s.name, links=[LinkRead.from_model(x) for x in s.links])
            for s in chain.sub_chains
        ],
        links=[LinkRead.from_model(x) for x in chain.links if x.sub_chain_id is None],
    )


def get_link(session: Session, chain_code: str, link_code: str) -> ChainLink:
    """One link of a chain of the current version."""
    version = resolve_version(session)
    link = repo.links_by_code(session, version.id, [link_code]).get(link_code)
    if link is None or link.chain.code != chain_code:
        raise NotFound(
            f"Unknown link {link_code!r} of chain {chain_code!r}",
            f"产业链“{chain_code}”下没有环节“{link_code}”",
        )
    return link


@dataclass
class CodeBook:
    """Chains and links of the current version keyed by code, for resolving input."""

    version: TaxonomyVersion
    chains: dict[str, Chain] = field(default_factory=dict)
    links: dict[str, ChainLink] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> "CodeBook":
        """Read the whole current version (a few hundred rows), once per session."""

        def read() -> tuple[TaxonomyVersion, CodeBook]:
            version = resolve_version(session)
            return version, cls(
                version=version,
                chains=repo.all_chains_by_code(session, version.id),
                links=repo.all_links_by_code(session, version.id),
            )

        return _once(session, ("book",), read)

    def chain_list(
        self, codes: list[str], loc: tuple, errors: list[FieldError], row: int | None = None
    ) -> list[Chain]:
        """Chains for codes; unknown codes become field errors."""
        return _known(self.chains, codes, loc, errors, row, "产业链代码", "chain code")

    def link_list(
        self, codes: list[str], loc: tuple, errors: list[FieldError], row: int | None = None
    ) -> list[ChainLink]:
        """Links for codes; unknown codes become field errors."""
        return _known(self.links, codes, loc, errors, row, "产业链环节代码", "link code")

    def chain_and_link(
        self,
        chain_code: str | None,
        link_code: str | None,
        errors: list[FieldError],
        prefix: tuple = ("body",),
        row: int | None = None,
    ) -> tuple[Chain | None, ChainLink | None]:
        """A need's chain and link; a link alone implies its chain, and must belong to it."""
        chain = link = None
        if chain_code:
            chain = self.chains.get(chain_code)
            if chain is None:
                errors.append(
                    _unknown((*prefix, "chain"), "产业链代码", "chain code", chain_code, row)
                )
        if link_code:
            link = self.links.get(link_code)
            if link is None:
                errors.append(
                    _unknown((*prefix, "link"), "产业链环节代码", "link code", link_code, row)
                )
            elif chain is not None and link.chain_id != chain.id:
                errors.append(
                    FieldError(
                        loc=(*prefix, "link"),
                        msg=f"link {link_code!r} does not belong to chain {chain_code!r}",
                        msg_zh=f"环节“{link_code}”不属于产业链“{chain_code}”",
                        row=row,
                    )
                )
            elif chain is None and not chain_code:
                chain = link.chain
        return chain, link


def _known(
    by_code: dict[str, Any],
    codes: list[str],
    loc: tuple,
    errors: list[FieldError],
    row: int | None,
    zh: str,
    en: str,
) -> list:
    """The entries of these codes; each unknown one becomes a field error."""
    out = []
    for i, code in enumerate(codes):
        if code in by_code:
            out.append(by_code[code])
        else:
            errors.append(_unknown((*loc, i), zh, en, code, row))
    return out


def _unknown(loc: tuple, zh: str, en: str, code: str, row: int | None) -> FieldError:
    return FieldError(
        loc=loc,
        msg=f"unknown {en} {code!r}; see GET /api/v1/chains",
        msg_zh=f"{zh}“{code}”不存在，可在 /api/v1/chains 查询",
        row=row,
    )
