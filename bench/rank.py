"""What a ranking request pays inside the matcher, at 10^4, 10^5 and 10^6 profiles.

What it measures, per N in --sizes, end to end through ``matching.matcher.Matcher`` (no web,
no database; the service adds its own costs, bench/load.py measures those):

- corpus: the real listed companies of data/eval-real (their products by revenue share, at most
  --products per company, as an SME registers a handful) repeated to N profiles, each with a
  seeded random unit 384-d vector per profile and per product, as the service stores them;
  --needs-per-profile needs (data/eval-real needs repeated) with random query vectors; a link
  placer fitted on the Shandong taxonomy (data/chains/sd-2022.json) with random link vectors;
- load: ``upsert_profiles``/``upsert_demands`` in chunks of 10,000 (what ``MatchingRuntime.load``
  does) then ``refresh()`` (the first lexical snapshot), seconds, and the first
  ``rank_profiles`` right after it;
- rank: ``rank_profiles(need, vector, k=50)`` for --queries needs, p50/p90 ms; the same with a
  ``ProfileFilter(chain=...)`` and ``exclude_ineligible``; ``rank_demands(profile, rows, k=50,
  where=DemandFilter(open_on=today))`` for profiles of the corpus;
- rank right after a write: one profile rewritten (``upsert_profiles``, new description), then
  one ``rank_profiles``, --writes times: the write's and the rank's p50 (the lexical index
  absorbs the write in its delta; no rebuild before the read);
- the floor in the same run: what any hybrid pays at least, one dense product with top-50
  (``X @ q`` and ``argpartition`` in numpy, X the profile vectors) plus one TF-IDF product over
  the same profile texts (scikit-learn's ``HashingVectorizer`` + ``TfidfTransformer``, character
  1-3-grams, the query transformed and multiplied by the transposed corpus matrix), p50 ms;
- RSS of the process after the load (and the matcher's share, before the floor's copies are
  built), MB and KB per profile.

Rankings are timed one at a time after 3 warm-ups; medians are quoted. BLAS threads follow
CHAINMATCH_BLAS_THREADS / OMP_NUM_THREADS (the service's setting). "foreign_cpu_cores" is the
average number of cores other processes kept busy while timing: above ~0.2 on 2 cores the
figures are disturbed.

Targets (issue 11): at 10^5, rank p50 <= 3x the floor, rank right after a write <= 1.5x the
rank p50, first rank after load < 1 s; at 10^6, rank p50 <= 250 ms.

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/rank.py [--sizes 10000,100000,1000000] [--queries 40] [--writes 20]
"""

import argparse
import gc
import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _util import cpu_snapshot, foreign_cores, rss_mb

from app.services.evaluation import links_from_taxonomy, load_set
from matching.documents import ProfileDoc, product_texts, profile_text
from matching.matcher import DemandFilter, Matcher, ProfileFilter
from matching.placement import LinkPlacer

ROOT = Path(__file__).resolve().parent.parent
DIM = 384
K = 50
CHUNK = 10_000
TARGETS = {"ratio_to_floor_at_1e5": 3.0, "after_write_ratio_at_1e5": 1.5, "first_rank_s": 1.0}
TARGET_P50_MS_AT_1E6 = 250.0


def log(msg: str) -> None:
    print(f"[rank] {msg}", file=sys.stderr, flush=True)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def ms(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.median(a)), 2),
        "p90_ms": round(float(np.percentile(a, 90)), 2),
        "n": len(samples),
    }


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def corpus(base: list[ProfileDoc], n: int, products: int) -> list[ProfileDoc]:
    """The real profiles repeated to n, each with its own id and at most `products` products."""
    out = []
    for i in range(n):
        p = base[i % len(base)]
        out.append(replace(p, id=i, products=p.products[:products], niches=p.niches[:products]))
    return out


def floor(texts: list[str], vectors: np.ndarray, queries: list[str], qv: np.ndarray) -> dict:
    """One numpy dense top-50 plus one scikit-learn TF-IDF product per query."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    hasher = HashingVectorizer(
        analyzer="char", ngram_range=(1, 3), n_features=2**20, alternate_sign=False, norm=None
    )
    tfidf = TfidfTransformer()
    matrix_t = tfidf.fit_transform(hasher.transform(texts)).T.tocsr()

    def one(text: str, q: np.ndarray) -> None:
        scores = vectors @ q
        top = np.argpartition(-scores, K - 1)[:K]
        top[np.argsort(-scores[top])]
        lexical = (tfidf.transform(hasher.transform([text])) @ matrix_t).toarray().ravel()
        np.argpartition(-lexical, K - 1)[:K]

    for j in range(3):
        one(queries[j], qv[j])
    samples = [timed(lambda j=j: one(queries[j], qv[j])) for j in range(len(queries))]
    return ms(samples)


def run(size: int, args, base, demands, links) -> dict:
    rng = np.random.default_rng(size)
    profiles = corpus(base, size, args.products)
    n_demands = max(len(demands), int(size * args.demands_per_profile))
    demand_docs = [replace(demands[i % len(demands)], id=f"N{i}") for i in range(n_demands)]
    placer = LinkPlacer().fit(links, unit(rng, len(links)))
    matcher = Matcher(DIM, placer=placer, link_names={x.code: x.name for x in links})
    gc.collect()
    rss_before = rss_mb()
    # The stored vectors exist before the load starts (the service reads them from its table).
    flat = unit(rng, sum(1 + len(product_texts(p)) for p in profiles))
    bounds = np.cumsum([0, *(1 + len(product_texts(p)) for p in profiles)])
    rows_of = [flat[a:b] for a, b in pairwise(bounds)]
    profile_rows = {p.id: rows_of[p.id] for p in profiles[:200]}
    demand_vectors = unit(rng, n_demands)
    log(f"N={size}: loading {size} profiles, {n_demands} needs")
    start = time.perf_counter()
    for at in range(0, size, CHUNK):
        matcher.upsert_profiles(profiles[at : at + CHUNK], rows_of[at : at + CHUNK])
    for at in range(0, n_demands, CHUNK):
        matcher.upsert_demands(demand_docs[at : at + CHUNK], demand_vectors[at : at + CHUNK])
    matcher.refresh()
    load_s = time.perf_counter() - start
    first = timed(lambda: matcher.rank_profiles(demand_docs[0], demand_vectors[0], k=K))
    gc.collect()
    rss_after = rss_mb()
    log(f"N={size}: loaded in {load_s:.1f} s, first rank {first * 1000:.0f} ms")

    snap = cpu_snapshot()
    picks = [int(i) for i in rng.choice(n_demands, size=args.queries + 3, replace=False)]
    samples = []
    for j, i in enumerate(picks):
        t = timed(lambda i=i: matcher.rank_profiles(demand_docs[i], demand_vectors[i], k=K))
        if j >= 3:
            samples.append(t)
    rank = ms(samples)
    chains = sorted({c for p in base for c in p.chains}) or ["equipment"]
    filtered = []
    for j, i in enumerate(picks):
        where = ProfileFilter(chain=demand_docs[i].chain or chains[j % len(chains)])
        t = timed(
            lambda i=i, where=where: matcher.rank_profiles(
                demand_docs[i], demand_vectors[i], k=K, where=where, exclude_ineligible=True
            )
        )
        if j >= 3:
            filtered.append(t)
    today = date.today()
    by_profile = []
    for j, pid in enumerate(list(profile_rows)[: args.queries + 3]):
        t = timed(
            lambda pid=pid: matcher.rank_demands(
                profiles[pid], profile_rows[pid], k=K, where=DemandFilter(open_on=today)
            )
        )
        if j >= 3:
            by_profile.append(t)
    writes, after_write = [], []
    for j in range(args.writes):
        pid = int(rng.integers(size))
        doc = replace(profiles[pid], description=profiles[pid].description + f" 改写{j} 精密轴承")
        rows = unit(rng, 1 + len(product_texts(doc)))
        writes.append(timed(lambda doc=doc, rows=rows: matcher.upsert_profiles([doc], [rows])))
        i = picks[j % len(picks)]
        after_write.append(
            timed(lambda i=i: matcher.rank_profiles(demand_docs[i], demand_vectors[i], k=K))
        )
    foreign = foreign_cores(snap, cpu_snapshot())
    pending = matcher.profile_lexical.pending

    log(f"N={size}: floor")
    del rows_of, flat
    texts = [profile_text(p) for p in profiles]
    vectors = matcher.profile_vectors.matrix
    queries = [matcher.demand_texts[demand_docs[i].id] for i in picks[3:]]
    floor_ms = floor(texts, vectors, queries, demand_vectors[picks[3:]])
    del texts
    out = {
        "profiles": size,
        "demands": n_demands,
        "load_s": round(load_s, 2),
        "first_rank_after_load_ms": round(first * 1000, 1),
        "rank_profiles": rank,
        "rank_profiles_filtered": ms(filtered),
        "rank_demands": ms(by_profile),
        "write": ms(writes),
        "rank_right_after_write": ms(after_write),
        "lexical_writes_pending": pending,
        "floor": floor_ms,
        "ratio_to_floor": round(rank["p50_ms"] / floor_ms["p50_ms"], 2),
        "after_write_ratio": round(ms(after_write)["p50_ms"] / rank["p50_ms"], 2),
        "rss_mb": round(rss_after, 0),
        "matcher_mb": round(rss_after - rss_before, 0),
        "matcher_kb_per_profile": round((rss_after - rss_before) * 1024 / size, 1),
        "foreign_cpu_cores": foreign,
    }
    log(json.dumps(out, ensure_ascii=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--products", type=int, default=3)
    parser.add_argument("--needs-per-profile", type=float, default=0.05)
    args = parser.parse_args()
    links = links_from_taxonomy(ROOT / "data" / "chains" / "sd-2022.json")
    data = load_set("real", ROOT / "data", {x.code: x.chain for x in links})
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        results.append(run(size, args, data.profiles, data.demands, links))
        gc.collect()
    by_size = {r["profiles"]: r for r in results}
    checks = {}
    if 100_000 in by_size:
        r = by_size[100_000]
        checks["ratio_to_floor_at_1e5"] = {
            "value": r["ratio_to_floor"],
            "target": TARGETS["ratio_to_floor_at_1e5"],
            "met": r["ratio_to_floor"] <= TARGETS["ratio_to_floor_at_1e5"],
        }
        checks["after_write_ratio_at_1e5"] = {
            "value": r["after_write_ratio"],
            "target": TARGETS["after_write_ratio_at_1e5"],
            "met": r["after_write_ratio"] <= TARGETS["after_write_ratio_at_1e5"],
        }
        first_s = r["first_rank_after_load_ms"] / 1000
        checks["first_rank_s_at_1e5"] = {
            "value": first_s,
            "target": TARGETS["first_rank_s"],
            "met": first_s < TARGETS["first_rank_s"],
        }
    if 1_000_000 in by_size:
        p50 = by_size[1_000_000]["rank_profiles"]["p50_ms"]
        checks["rank_p50_ms_at_1e6"] = {
            "value": p50,
            "target": TARGET_P50_MS_AT_1E6,
            "met": p50 <= TARGET_P50_MS_AT_1E6,
        }
    print(
        json.dumps(
            {
                "bench": "rank",
                "python": platform.python_version(),
                "numpy": np.__version__,
                "cpus": os.cpu_count(),
                "blas_threads": os.environ.get(
                    "CHAINMATCH_BLAS_THREADS", os.environ.get("OMP_NUM_THREADS")
                ),
                "results": results,
                "targets": checks,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
