"""The chain taxonomy: loading versioned data files, reading, resolving codes."""

import json
import unicodedata
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
    _chain_names: dict[str, Chain] | None = field(default=None, repr=False)
    _link_names: dict[str, list[ChainLink]] | None = field(default=None, repr=False)

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

    def chain(self, text: str) -> Chain | None:
        """The chain of a code or a Chinese name (高端装备, 高端装备产业链)."""
        if text in self.chains:
            return self.chains[text]
        if self._chain_names is None:
            self._chain_names = {name_key(c.name): c for c in self.chains.values()}
        return self._chain_names.get(name_key(text))

    def links_named(self, text: str) -> list[ChainLink]:
        """The links of a code, or of a Chinese name (a few names stand in two chains)."""
        if text in self.links:
            return [self.links[text]]
        if self._link_names is None:
            self._link_names = {}
            for link in self.links.values():
                self._link_names.setdefault(name_key(link.name), []).append(link)
        return self._link_names.get(name_key(text), [])

    def chain_list(
        self, codes: list[str], loc: tuple, errors: list[FieldError], row: int | None = None
    ) -> list[Chain]:
        """Chains for codes or names; unknown ones become field errors."""
        out: list[Chain] = []
        for i, text in enumerate(codes):
            chain = self.chain(text)
            if chain is None:
                errors.append(_unknown((*loc, i), "产业链", "chain", text, row))
            elif chain not in out:
                out.append(chain)
        return out

    def link_list(
        self, codes: list[str], loc: tuple, errors: list[FieldError], row: int | None = None
    ) -> list[ChainLink]:
        """Links for codes or names; unknown or ambiguous ones become field errors."""
        out: list[ChainLink] = []
        for i, text in enumerate(codes):
            link = self._one_link(text, None, (*loc, i), errors, row)
            if link is not None and link not in out:
                out.append(link)
        return out

    def _one_link(
        self,
        text: str,
        chain: Chain | None,
        loc: tuple,
        errors: list[FieldError],
        row: int | None,
    ) -> ChainLink | None:
        found = self.links_named(text)
        if chain is not None and len(found) > 1:
            found = [x for x in found if x.chain_id == chain.id] or found
        if not found:
            errors.append(_unknown(loc, "产业链环节", "link", text, row))
            return None
        if len(found) > 1:
            chains = "、".join(x.chain.name for x in found)
            errors.append(
                FieldError(
                    loc=loc,
                    msg=f"link name {text!r} stands in several chains; give the chain or the code",
                    msg_zh=f"环节“{text}”在多条产业链中都有（{chains}）：请同时填写产业链，"
                    "或填写环节代码",
                    row=row,
                )
            )
            return None
        return found[0]

    def chain_and_link(
        self,
        chain_code: str | None,
        link_code: str | None,
        errors: list[FieldError],
        prefix: tuple = ("body",),
        row: int | None = None,
    ) -> tuple[Chain | None, ChainLink | None]:
        """A need's chain and link (codes or names); a link alone implies its chain, and must
        belong to it."""
        chain = link = None
        if chain_code:
            chain = self.chain(chain_code)
            if chain is None:
                errors.append(_unknown((*prefix, "chain"), "产业链", "chain", chain_code, row))
        if link_code:
            link = self._one_link(link_code, chain, (*prefix, "link"), errors, row)
            if link is not None and chain is not None and link.chain_id != chain.id:
                errors.append(
                    FieldError(
                        loc=(*prefix, "link"),
                        msg=f"link {link_code!r} does not belong to chain {chain_code!r}",
                        msg_zh=f"环节“{link.name}”不属于产业链“{chain.name}”",
                        row=row,
                    )
                )
                link = None
            elif link is not None and chain is None and not chain_code:
                chain = link.chain
        return chain, link


def name_key(text: str) -> str:
    """A chain or link name as compared: width-folded, without spaces or a trailing 产业链."""
    key = "".join(unicodedata.normalize("NFKC", text).split())
    return key.removesuffix("产业链") or key


def _unknown(loc: tuple, zh: str, en: str, code: str, row: int | None) -> FieldError:
    return FieldError(
        loc=loc,
        msg=f"unknown {en} {code!r} (a code or a name; GET /api/v1/chains lists them)",
        msg_zh=f"{zh}“{code}”不存在：请填写现行产业链目录中的名称或代码",
        row=row,
    )
