"""Queries of the matcher's tables: embeddings, the change log and encoding claims."""

from collections.abc import Iterable
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
    IndexChange,
    SmeProfile,
)

ENTITY_MODELS = {"sme": SmeProfile, "demand": Demand}


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
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
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


def save_embedding(
    session: Session, entity_type: str, entity_id: int, encoder: str, text_hash: str, vector
) -> None:
    """Insert or replace an entity's vector."""
    existing = session.scalar(
        select(Embedding).where(
            Embedding.entity_type == entity_type,
            Embedding.entity_id == entity_id,
            Embedding.encoder == encoder,
        )
    )
    data = to_bytes(vector)
    if existing is None:
        session.add(
            Embedding(
                entity_type=entity_type,
                entity_id=entity_id,
                encoder=encoder,
                dim=int(np.asarray(vector).shape[-1]),
                text_hash=text_hash,
                vector=data,
            )
        )
    else:
        existing.text_hash = text_hash
        existing.vector = data
        existing.dim = int(np.asarray(vector).shape[-1])


def record_change(session: Session, entity_type: str, entity_id: int) -> None:
    """Tell every process to reload this entity."""
    session.add(IndexChange(entity_type=entity_type, entity_id=entity_id))
    session.info["index_dirty"] = True


def changes_since(session: Session, since: datetime) -> list[IndexChange]:
    """Changes logged at or after `since`, oldest first."""
    return list(
        session.scalars(
            select(IndexChange).where(IndexChange.created_at >= since).order_by(IndexChange.id)
        )
    )


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
