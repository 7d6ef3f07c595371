"""Queries of the matcher's tables: embeddings, the change log and encoding claims."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    Chain,
    ChainLink,
    Demand,
    Embedding,
    EncodeClaim,
    Enterprise,
    IndexChange,
    SmeCertification,
    SmeProduct,
    SmeProfile,
)
from models.enterprise import sme_chains, sme_links

ENTITY_MODELS = {"sme": SmeProfile, "demand": Demand}
# Ids per IN list or per range read: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 5000


def _core(session: Session):
    """The session's connection: plain rows, none of the ORM's per-row result handling.

    The session flushes first, so rows it holds unflushed are read too (as its own queries do).
    """
    session.flush()
    return session.connection()


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").copy()


def embeddings_for(
    session: Session, entity_type: str, ids: Iterable[int], encoder: str
) -> dict[int, Embedding]:
    """Stored embeddings of these entities under one encoder."""
    ids = list(ids)
    out: dict[int, Embedding] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = session.scalars(
            select(Embedding).where(
                Embedding.entity_type == entity_type,
                Embedding.encoder == encoder,
                Embedding.entity_id.in_(chunk),
            )
        )
        out.update({e.entity_id: e for e in rows})
    return out


def all_embeddings(session: Session, entity_type: str, encoder: str) -> dict[int, Embedding]:
    """Every stored embedding of a kind under one encoder."""
    rows = session.scalars(
        select(Embedding).where(Embedding.entity_type == entity_type, Embedding.encoder == encoder)
    )
    return {e.entity_id: e for e in rows}


def stored_vectors(
    session: Session, entity_type: str, encoder: str, ids: Sequence[int] | None = None
) -> Iterator[tuple[int, str, int, bytes]]:
    """(entity id, text hash, dim, vector bytes) of stored vectors, without ORM objects.

    `ids` None: every vector of the kind, read in id ranges (at start-up: no IN list of 10^5
    ids, and no 10^5 Embedding objects held at once).
    """
    cols = select(Embedding.entity_id, Embedding.text_hash, Embedding.dim, Embedding.vector)
    base = cols.where(Embedding.entity_type == entity_type, Embedding.encoder == encoder)
    if ids is not None:
        ids = list(ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            yield from _core(session).execute(base.where(Embedding.entity_id.in_(chunk)))
        return
    last = None
    while True:
        stmt = base if last is None else base.where(Embedding.entity_id > last)
        rows = list(_core(session).execute(stmt.order_by(Embedding.entity_id).limit(CHUNK)))
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def save_embeddings(
    session: Session, entity_type: str, encoder: str, items: Sequence[tuple[int, str, object]]
) -> None:
    """Insert or replace many entities' vectors: (entity id, text hash, vector) each."""
    existing = embeddings_for(session, entity_type, [i for i, _, _ in items], encoder)
    for entity_id, text_hash, vector in items:
        row = existing.get(entity_id)
        if row is None:
            row = Embedding(entity_type=entity_type, entity_id=entity_id, encoder=encoder)
            session.add(row)
        row.text_hash, row.vector = text_hash, to_bytes(vector)
        row.dim = int(np.asarray(vector).shape[-1])


def save_embedding(
    session: Session, entity_type: str, entity_id: int, encoder: str, text_hash: str, vector
) -> None:
    """Insert or replace an entity's vector."""
    save_embeddings(session, entity_type, encoder, [(entity_id, text_hash, vector)])


def record_change(session: Session, entity_type: str, entity_id: int) -> None:
    """Tell every process to reload this entity."""
    session.add(IndexChange(entity_type=entity_type, entity_id=entity_id))
    session.info["index_dirty"] = True


def change_rows(
    session: Session, after: int, gaps: Sequence[tuple[int, int]], since: datetime
) -> list[tuple[int, str, int]]:
    """(id, entity type, entity id) of the changes above id `after`, and of those in the `gaps`
    id ranges logged at or after `since`; oldest first. Plain tuples: after a bulk import a
    poll reads thousands."""
    where = IndexChange.id > after
    if gaps:
        ranged = or_(*(IndexChange.id.between(lo, hi) for lo, hi in gaps))
        where = or_(where, and_(ranged, IndexChange.created_at >= since))
    stmt = select(IndexChange.id, IndexChange.entity_type, IndexChange.entity_id).where(where)
    return [tuple(r) for r in session.execute(stmt.order_by(IndexChange.id))]


def change_rows_since(session: Session, since: datetime) -> list[tuple[int, str, int]]:
    """(id, entity type, entity id) of the changes logged at or after `since`, oldest first."""
    stmt = (
        select(IndexChange.id, IndexChange.entity_type, IndexChange.entity_id)
        .where(IndexChange.created_at >= since)
        .order_by(IndexChange.id)
    )
    return [tuple(r) for r in session.execute(stmt)]


def live_demands(session: Session) -> list[Demand]:
    """Every need not deleted (drafts included: the index filters by status)."""
    return list(session.scalars(select(Demand).where(Demand.deleted_at.is_(None))))


def demands_by_ids(session: Session, ids: Iterable[int]) -> list[Demand]:
    """The needs with these ids, deleted ones included."""
    return list(session.scalars(select(Demand).where(Demand.id.in_(list(ids)))))


def last_change_id(session: Session) -> int:
    """The highest committed change id (0 for an empty log)."""
    return int(session.scalar(select(func.max(IndexChange.id))) or 0)


def prune_changes(session: Session, before: datetime) -> None:
    """Forget changes old enough that every process has seen them."""
    session.execute(delete(IndexChange).where(IndexChange.created_at < before))


def _stale_where(entity_type: str, encoder: str, stmt):
    """Restrict a select over an entity to live rows whose vector is missing or stale."""
    model = ENTITY_MODELS[entity_type]
    return stmt.outerjoin(
        Embedding,
        and_(
            Embedding.entity_type == entity_type,
            Embedding.entity_id == model.id,
            Embedding.encoder == encoder,
        ),
    ).where(
        model.deleted_at.is_(None),
        model.match_text_hash.is_not(None),
        or_(Embedding.id.is_(None), Embedding.text_hash != model.match_text_hash),
    )


def pending(session: Session, entity_type: str, encoder: str, limit: int) -> list[tuple[int, str]]:
    """(id, text hash) of live entities whose vector is missing or stale."""
    model = ENTITY_MODELS[entity_type]
    stmt = _stale_where(entity_type, encoder, select(model.id, model.match_text_hash))
    return [(i, h) for i, h in session.execute(stmt.order_by(model.id).limit(limit))]


def count_pending(session: Session, entity_type: str, encoder: str) -> int:
    """How many live entities wait for a vector."""
    model = ENTITY_MODELS[entity_type]
    stmt = _stale_where(entity_type, encoder, select(func.count()).select_from(model))
    return int(session.scalar(stmt) or 0)


def count_embeddings(session: Session, entity_type: str, encoder: str) -> int:
    """How many vectors of a kind are stored under one encoder."""
    stmt = select(func.count()).where(
        Embedding.entity_type == entity_type, Embedding.encoder == encoder
    )
    return int(session.scalar(stmt) or 0)


def try_claim(session: Session, entity_type: str, entity_id: int, text_hash: str, me: str) -> bool:
    """Claim one text version for encoding; False when another process holds it."""
    try:
        with session.begin_nested():
            session.add(
                EncodeClaim(
                    entity_type=entity_type, entity_id=entity_id, text_hash=text_hash, claimed_by=me
                )
            )
        return True
    except IntegrityError:
        return False


def release_claims(session: Session, me: str) -> None:
    """Drop this process's claims (after its vectors are stored)."""
    session.execute(delete(EncodeClaim).where(EncodeClaim.claimed_by == me))


def expire_claims(session: Session, before: datetime) -> None:
    """Drop claims of processes that died while encoding."""
    session.execute(delete(EncodeClaim).where(EncodeClaim.claimed_at < before))


def links_of_version(session: Session, version_id: int) -> list[ChainLink]:
    """Every link of a taxonomy version, with chain and sub-chain."""
    return list(
        session.scalars(
            select(ChainLink)
            .join(Chain)
            .where(Chain.taxonomy_version_id == version_id)
            .order_by(Chain.position, ChainLink.position)
        )
    )


def delete_embeddings(session: Session, encoder: str) -> int:
    """Drop every stored vector of one encoder; returns how many."""
    result = session.execute(delete(Embedding).where(Embedding.encoder == encoder))
    for entity_type in ("sme", "demand"):
        model = ENTITY_MODELS[entity_type]
        for (entity_id,) in session.execute(select(model.id).where(model.deleted_at.is_(None))):
            record_change(session, entity_type, entity_id)
    record_change(session, "link", 0)
    return int(result.rowcount or 0)


def set_text_hashes(session: Session, model, hashes: dict[int, str]) -> None:
    """Set `match_text_hash` of many rows without touching their version."""
    table = model.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(match_text_hash=bindparam("h")),
        [{"row_id": k, "h": v} for k, v in hashes.items()],
    )


# -- profiles as plain rows (start-up, sync and the encoding queue) --------------------------


@dataclass(slots=True)
class Named:
    """A related row reduced to what the matcher reads (a product, certificate, chain...)."""

    name: str = ""
    code: str = ""
    niche: str | None = None
    capacity: str | None = None
    city: str = ""


@dataclass(slots=True)
class ProfileRow:
    """An SME profile read with Core queries, shaped like SmeProfile for `match_docs`."""

    id: int
    enterprise: Named
    tier: str
    processes: list
    description: str
    leaders_supplied: list
    invention_patents: int
    match_text_hash: str | None
    deleted_at: datetime | None
    products: list[Named] = field(default_factory=list)
    certifications: list[Named] = field(default_factory=list)
    chains: list[Named] = field(default_factory=list)
    links: list[Named] = field(default_factory=list)


def profile_rows(session: Session, ids: Sequence[int] | None = None) -> dict[int, ProfileRow]:
    """Profiles by id, without their products and the rest (`attach_profile_parts`).

    `ids` None: every live profile (start-up); else those ids, deleted ones included (sync).
    ORM objects for 10^5 profiles and their children cost more than the rest of start-up.
    """
    stmt = select(
        SmeProfile.id,
        Enterprise.name,
        Enterprise.city,
        SmeProfile.tier,
        SmeProfile.processes,
        SmeProfile.description,
        SmeProfile.leaders_supplied,
        SmeProfile.invention_patents,
        SmeProfile.match_text_hash,
        SmeProfile.deleted_at,
    ).join(Enterprise, SmeProfile.enterprise_id == Enterprise.id)
    if ids is None:
        chunks = [stmt.where(SmeProfile.deleted_at.is_(None)).order_by(SmeProfile.id)]
    else:
        ids = list(ids)
        chunks = [
            stmt.where(SmeProfile.id.in_(ids[i : i + CHUNK])).order_by(SmeProfile.id)
            for i in range(0, len(ids), CHUNK)
        ]
    out: dict[int, ProfileRow] = {}
    for chunk in chunks:
        for (
            sid,
            name,
            city,
            tier,
            processes,
            desc,
            supplied,
            patents,
            digest,
            deleted,
        ) in _core(session).execute(chunk):
            out[sid] = ProfileRow(
                sid,
                Named(name=name, city=city),
                tier,
                processes or [],
                desc or "",
                supplied or [],
                patents or 0,
                digest,
                deleted,
            )
    return out


def _codes(table, target_id, target) -> tuple:
    """The codes of the chains or links an association `table` gives each profile, in order:
    the query, the profile id column and what each row becomes."""
    stmt = (
        select(table.c.sme_id, target.code)
        .join(target, target_id == target.id)
        .order_by(table.c.sme_id, target.position)
    )
    return stmt, table.c.sme_id, lambda r: Named(code=r[1])


def attach_profile_parts(session: Session, rows: dict[int, ProfileRow], everything: bool) -> None:
    """Fill products, certificates, chains and links of `rows`, in their stored order.

    `everything`: `rows` holds every live profile, so whole tables are read (no IN lists).
    """
    queries = (
        (
            "products",
            select(
                SmeProduct.sme_id, SmeProduct.name, SmeProduct.niche, SmeProduct.capacity
            ).order_by(SmeProduct.sme_id, SmeProduct.position, SmeProduct.id),
            SmeProduct.sme_id,
            lambda r: Named(name=r[1], niche=r[2], capacity=r[3]),
        ),
        (
            "certifications",
            select(SmeCertification.sme_id, SmeCertification.name).order_by(
                SmeCertification.sme_id, SmeCertification.position
            ),
            SmeCertification.sme_id,
            lambda r: Named(name=r[1]),
        ),
        ("chains", *_codes(sme_chains, sme_chains.c.chain_id, Chain)),
        ("links", *_codes(sme_links, sme_links.c.link_id, ChainLink)),
    )
    ids = list(rows)
    for attr, stmt, key, make in queries:
        stmts = (
            [stmt]
            if everything
            else [stmt.where(key.in_(ids[i : i + CHUNK])) for i in range(0, len(ids), CHUNK)]
        )
        for s in stmts:
            for r in _core(session).execute(s):
                row = rows.get(r[0])
                if row is not None:  # a deleted profile's children at start-up
                    getattr(row, attr).append(make(r))
