"""Start-up at scale: `MatchingRuntime.load()` over 10^5 stored profiles, SQLite and PostgreSQL.

For each backend the database is migrated, the taxonomy loaded, and `--profiles` SME profiles
and `--needs` needs with stored vectors seeded once (bench/seed_scale.py; a later run reuses
them when the counts match). Then, in a fresh child process per backend (so RSS is that of
a server that just started): RSS after imports, `MatchingRuntime(settings, factory).load()`
timed by phase (`load_timings`: weights and links, profile rows, their products /
certificates / chains / links, ProfileDocs, text hashes, stored vectors, the matcher's upsert,
needs), RSS after, the first `rank_profiles` after the load and the median of the next ones
(each need's stored vector, as `GET /demands/{id}/matches` does). RSS growth over profiles is
the memory per profile (vectors, lexical index, documents).

The matcher's own upsert (`matcher_upsert_profiles`) is reported apart: its internals change
independently of the loading code (`--stub-matcher` skips it, timing the loading code alone).
Targets: load in seconds, first rank under 1 s.

    .venv/bin/python bench/startup.py [--profiles 100000] [--needs 1000] \\
        [--backends sqlite,postgresql] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/chainmatch_bench]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/chainmatch_bench"
ENCODER = "e5"


def log(msg: str) -> None:
    print(f"[startup] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist (SQLite: its folder)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def prepare(url: str, profiles: int, demands: int) -> dict:
    """Migrate, load the taxonomy and seed (unless the seeded counts are already there)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import func, select

    from app.config import Settings
    from app.db import make_engine, make_session_factory, unit_of_work
    from app.services import taxonomy
    from app.services.matching import build_encoder
    from models import Demand, SmeProfile

    ensure_database(url)
    os.environ["CHAINMATCH_DATABASE_URL"] = url
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")
    settings = Settings(database_url=url, encoder=ENCODER)
    name = build_encoder(settings).name  # no model load: E5Encoder loads lazily
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine)) as session:
        taxonomy.load_taxonomy_dir(session, settings.data_dir / "chains", settings.taxonomy_version)
    with engine.connect() as conn:
        have_p = int(conn.scalar(select(func.count()).select_from(SmeProfile)))
        have_n = int(conn.scalar(select(func.count()).select_from(Demand)))
    engine.dispose()
    seeded_s = None
    if have_p < profiles or have_n < demands:
        from seed_scale import seed

        log(f"seeding {profiles - have_p} profiles, {max(demands - have_n, 0)} needs into {url}")
        t0 = time.perf_counter()
        seed(
            url,
            profiles - have_p,
            n_demands=max(demands - have_n, 0),
            dim=build_encoder(settings).dim,
            encoder_name=name,
        )
        seeded_s = round(time.perf_counter() - t0, 1)
    return {"encoder": name, "seed_s": seeded_s, "profiles_before": have_p}


def child(url: str, ranks: int, stub_matcher: bool = False) -> dict:
    """One fresh process: load, then rank (run as `startup.py --child URL`)."""
    import numpy as np
    from _util import cpu_snapshot, foreign_cores

    from app.config import Settings
    from app.db import make_engine, make_read_session_factory, make_session_factory
    from app.main import limit_blas_threads
    from app.services.matching import MatchingRuntime

    settings = Settings(
        database_url=url, encoder=ENCODER, index_poll_seconds=0, encode_poll_seconds=0
    )
    limit_blas_threads(settings.blas_threads)
    engine = make_engine(url)
    rss0 = rss_mb()
    snap = cpu_snapshot()
    t0 = time.perf_counter()
    runtime = MatchingRuntime(
        settings,
        make_session_factory(engine),
        read_session_factory=make_read_session_factory(engine),
    )
    stubbed: list[int] = []
    if stub_matcher:
        # Only the loading code: the matcher's upsert changes independently of it.
        runtime.matcher.upsert_profiles = lambda docs, vectors=None: stubbed.append(len(docs))
    runtime.load()
    load_s = time.perf_counter() - t0
    foreign = foreign_cores(snap, cpu_snapshot())
    rss1 = rss_mb()
    matcher = runtime.matcher
    demand_ids = [] if stub_matcher else list(matcher.demands)[: ranks + 1]
    times = []
    for i in demand_ids:
        t = time.perf_counter()
        matcher.rank_profiles(matcher.demands[i], matcher.demand_vectors.vector(i), k=50)
        times.append((time.perf_counter() - t) * 1000)
    n = len(matcher.profiles) or sum(stubbed)
    runtime.stop()
    engine.dispose()
    return {
        "profiles": n,
        "profiles_with_vectors": len(matcher.profile_vectors),
        "demands": len(matcher.demands),
        "load_s": round(load_s, 2),
        "phases_s": runtime.load_timings,
        "load_foreign_cpu_cores": foreign,
        "first_rank_ms": round(times[0], 1) if times else None,
        "next_rank_p50_ms": round(float(np.median(times[1:])), 1) if len(times) > 1 else None,
        "rss_mb_before_load": round(rss0, 1),
        "rss_mb_after_load": round(rss1, 1),
        "rss_kb_per_profile": round((rss1 - rss0) * 1024 / max(n, 1), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-path", type=Path, default=ROOT / "var" / "bench" / "startup.db")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--ranks", type=int, default=10, help="rankings after the first")
    parser.add_argument(
        "--stub-matcher", action="store_true", help="skip the matcher's upsert (no ranking)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.ranks, args.stub_matcher)))
        return 0

    t_start = time.perf_counter()
    urls = {
        "sqlite": f"sqlite:///{args.sqlite_path}",
        "postgresql": args.pg_url,
    }
    out: dict = {
        "bench": "startup",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "profiles": args.profiles,
        "demands": args.demands,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        url = urls[backend]
        prep = prepare(url, args.profiles, args.demands)
        log(f"{backend}: loading in a fresh process")
        run = subprocess.run(
            [sys.executable, __file__, "--child", url, "--ranks", str(args.ranks)]
            + (["--stub-matcher"] if args.stub_matcher else []),
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            out[backend] = {"error": run.stderr[-2000:]}
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        out[backend] = {**prep, **result}
        log(f"{backend}: load {result['load_s']} s, first rank {result['first_rank_ms']} ms")
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
