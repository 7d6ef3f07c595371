"""Approximate nearest-neighbour indexes (hnswlib, faiss) against the exact brute-force top-50.

What it measures, for each N in --sizes (default 100,000 and 1,000,000 vectors of 384-d float32,
unit length, inner product = cosine):

- data: a seed of multilingual-e5-small passage vectors (every ``*.passage.npz`` under --cache,
  default var/cache, as written by ``chainmatch eval``). --queries of them are held out as the
  queries; a Gaussian mixture is fitted to the rest (--clusters spherical k-means means plus one
  pooled within-cluster covariance) and the corpus is N fresh samples of it, renormalised.
  Its spread (a scale on the covariance) is calibrated at the seed's own size, where real
  figures exist: the scale whose synthetic corpus of len(seed) rows gives the queries the mean
  top-1 and top-50 cosine closest to those of the real seed (both reported, and the synthetic
  figures at N). Fresh samples rather than noisy copies of the seed: cycling a seed of a few
  thousand rows to 10^6 makes clumps of hundreds of near-duplicates whose top-50 is noise,
  which no real corpus looks like. Without a usable cache the seed is clustered synthetic
  data (64 anisotropic clusters around one direction, e5-like pairwise cosines); --random
  gives plain random unit vectors (the worst case for ANN);
- exact (the floor, what matching/index.py does): ``X @ q`` + ``argpartition`` top-k, one query at
  a time, with BLAS limited to 1 and to 2 threads; and a batch of 16 queries (``Q @ X.T``);
- --configs of: faiss IndexIVFFlat (``ivf``: nlist = 4 sqrt(N), trained on 40 rows per list,
  10 k-means iterations, nprobe sweep), hnswlib HNSW inner product (``hnsw16``, ``hnsw32``: M 16
  or 32), faiss IndexHNSWFlat (``faiss-hnsw32``); graphs with --ef-construction (default 100)
  and an ef sweep. Default ``ivf,hnsw16``.

Every index is built with 1 thread and queried with 1 thread, one query at a time, asking for
the top 2k (the matcher's first stage keeps 100 per signal). Per configuration: build wall and
CPU seconds, RSS growth in MB while it was built (includes the index's own copy of the
vectors), recall@k and @2k against the exact top lists (mean over queries), p50/p99 wall ms and
p50 CPU ms per query (after 5 warm-ups). The whole run has a --budget-s wall-clock budget and
each build at most --build-cap-s: a graph index is built in chunks and stops at its deadline,
then is measured on the rows it holds (``n_built``, with its own exact truth); an IVF build
whose time, extrapolated from the previous size (N log N), would not fit is skipped.
"foreign_cpu_cores" is the average number of cores other processes kept busy during a
measurement (from /proc/stat): on 2 cores anything above ~0.2 means disturbed wall figures
(CPU figures suffer less).

hnswlib and faiss-cpu are optional bench dependencies (``pip install hnswlib faiss-cpu``); a
missing one is reported in the JSON and skipped; with neither the script exits 0 with a note.

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/ann.py [--sizes 100000,1000000] [--queries 200] [--k 50] [--seed 0]
        [--libs hnswlib,faiss] [--configs ivf,hnsw16] [--ef-construction 100] [--cache var/cache]
        [--random] [--budget-s 2400] [--build-cap-s 1500]
"""

import argparse
import gc
import importlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import cpu_snapshot, foreign_cores, rss_mb

ROOT = Path(__file__).resolve().parent.parent
DIM = 384
CHUNK = 100_000
WARMUP = 5
SCALES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
EF_SEARCH = (100, 200, 400, 800)
NPROBE = (8, 16, 32, 64, 128, 256, 512)
ADD_CHUNK = 50_000
RESERVE_S = 120.0


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[ann] {msg}", file=sys.stderr, flush=True)


def normalise(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in place."""
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def load_real(cache: Path) -> np.ndarray | None:
    """Distinct unit passage vectors from every *.passage.npz in cache (None when none)."""
    parts = []
    for path in sorted(cache.glob("*.passage.npz")):
        with np.load(path) as data:
            vectors = np.asarray(data["vectors"], dtype=np.float32)
        if vectors.ndim == 2 and vectors.shape[1] == DIM:
            parts.append(vectors)
    if not parts:
        return None
    rows = np.unique(np.vstack(parts), axis=0)
    return normalise(rows[np.linalg.norm(rows, axis=1) > 0])


def exact_topk(X: np.ndarray, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k ids and scores of every query (chunked batch products, best first)."""
    best_s = np.full((len(Q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(Q), 0), dtype=np.int64)
    for start in range(0, len(X), CHUNK):
        S = Q @ X[start : start + CHUNK].T
        kk = min(k, S.shape[1])
        part = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        cand_s = np.hstack([best_s, np.take_along_axis(S, part, axis=1)])
        cand_i = np.hstack([best_i, part + start])
        keep = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cand_s, keep, axis=1)
        best_i = np.take_along_axis(cand_i, keep, axis=1)
    return best_i, best_s


def cos_stats(scores: np.ndarray, k: int) -> dict[str, float]:
    """Mean top-1 and top-k cosine (the k-th best) over queries."""
    return {
        "top1_mean": round(float(scores[:, 0].mean()), 4),
        f"top{k}_mean": round(float(scores[:, k - 1].mean()), 4),
    }


def single_top(X: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """What a request pays: one gemv and argpartition, best first."""
    scores = X @ q
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx])]


def timed(
    fn: Callable[[np.ndarray], np.ndarray], Q: np.ndarray
) -> tuple[list[float], list[float], list]:
    """Per-query wall ms, per-query process CPU ms and results of fn over Q (after warm-ups).

    CPU time (all of this process's threads) is what a query costs with the machine to
    itself; on a shared machine wall time also holds the waits for a core.
    """
    for q in Q[:WARMUP]:
        fn(q)
    ms, cpu, out = [], [], []
    for q in Q:
        c = time.process_time()
        t = time.perf_counter()
        res = fn(q)
        ms.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
        out.append(res)
    return ms, cpu, out


def pct(ms: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    """p50 and p99 wall ms (and the p50 CPU ms when given)."""
    out = {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }
    if cpu is not None:
        out["p50_cpu_ms"] = round(float(np.percentile(cpu, 50)), 3)
    return out


def recall(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    """Mean share of the exact top-k found among the first k results."""
    hits = [
        len(np.intersect1d(np.asarray(f)[:k], t[:k])) / k for f, t in zip(found, truth, strict=True)
    ]
    return round(float(np.mean(hits)), 4)


def recalls(found: list[np.ndarray], truth: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """recall@k for every k in ks (results and truth sorted best first)."""
    return {f"recall_at_{k}": recall(found, truth, k) for k in ks}


def measure_exact(
    X: np.ndarray, Q: np.ndarray, truth: np.ndarray, ks: tuple[int, ...]
) -> dict[str, Any]:
    """The exact baseline: single queries with 1 and 2 BLAS threads, and batches of 16."""
    k = max(ks)
    out: dict[str, Any] = {}
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            before = cpu_snapshot()
            ms, cpu, found = timed(lambda q: single_top(X, q, k), Q)
            out[f"single_{threads}t"] = {
                **pct(ms, cpu),
                **recalls(found, truth, ks),
                "foreign_cpu_cores": foreign_cores(before, cpu_snapshot()),
            }
        log(f"  exact single {threads}t p50 {out[f'single_{threads}t']['p50_ms']} ms")
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            batches = [Q[i : i + 16] for i in range(0, len(Q) - 15, 16)]
            exact_topk(X, batches[0], k)
            before = cpu_snapshot()
            ms = []
            for B in batches:
                t = time.perf_counter()
                S = B @ X.T
                for row in S:
                    idx = np.argpartition(-row, k - 1)[:k]
                    idx[np.argsort(-row[idx])]
                ms.append((time.perf_counter() - t) * 1e3)
            out[f"batch16_{threads}t"] = {
                "p50_ms_per_batch": round(float(np.median(ms)), 2),
                "p50_ms_per_query": round(float(np.median(ms)) / 16, 3),
                "foreign_cpu_cores": foreign_cores(before, cpu_snapshot()),
            }
    return out


class Config:
    """One index configuration: how to build it and the query-time knob to sweep."""

    def __init__(self, lib: str, method: str, params: dict[str, Any], sweep: str, values: tuple):
        self.lib, self.method, self.params = lib, method, params
        self.sweep, self.values = sweep, values
        # A stable name for extrapolating build times across sizes (nlist follows N).
        self.key = f"{lib}:{method}:" + ",".join(f"{k}={v}" for k, v in params.items())

    def build(self, X: np.ndarray, seed: int, deadline: float) -> tuple[Any, int]:
        """The index built with 1 thread, and how many rows it holds.

        Graph indexes are built in chunks of ADD_CHUNK rows and stop before a chunk that,
        at the pace of the previous one, would end after ``deadline`` (time.monotonic());
        the rows added so far are a prefix of X, itself a sample of the same distribution.
        """
        if self.method == "IVFFlat":
            return self._ivf(X, seed), len(X)
        if self.lib == "hnswlib":
            import hnswlib

            index = hnswlib.Index(space="ip", dim=X.shape[1])
            index.init_index(
                max_elements=len(X),
                ef_construction=self.params["ef_construction"],
                M=self.params["M"],
                random_seed=seed,
            )
            index.set_num_threads(1)

            def add(start: int, rows: np.ndarray) -> None:
                index.add_items(rows, np.arange(start, start + len(rows)), num_threads=1)
        else:
            import faiss

            faiss.omp_set_num_threads(1)
            index = faiss.IndexHNSWFlat(X.shape[1], self.params["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.params["ef_construction"]

            def add(start: int, rows: np.ndarray) -> None:
                index.add(rows)

        built, pace = 0, 0.0
        while built < len(X):
            if built and time.monotonic() + pace * 1.1 > deadline:
                log(f"    deadline: stopping at {built} rows")
                break
            t = time.perf_counter()
            add(built, X[built : built + ADD_CHUNK])
            pace = time.perf_counter() - t
            built = min(built + ADD_CHUNK, len(X))
            if built % (4 * ADD_CHUNK) == 0:
                log(f"    {built} rows, last chunk {pace:.1f} s")
        return index, built

    def _ivf(self, X: np.ndarray, seed: int) -> Any:
        """faiss IndexIVFFlat: nlist = 4 sqrt(N), trained on 40 rows per list, 10 iterations."""
        import faiss

        faiss.omp_set_num_threads(1)
        nlist = round(4 * math.sqrt(len(X)))
        self.params["nlist"] = nlist
        quantizer = faiss.IndexFlatIP(X.shape[1])
        index = faiss.IndexIVFFlat(quantizer, X.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        rng = np.random.default_rng(seed)
        sample = X[np.sort(rng.choice(len(X), size=min(len(X), 40 * nlist), replace=False))]
        index.train(sample)
        for start in range(0, len(X), CHUNK):
            index.add(X[start : start + CHUNK])
        return index

    def searcher(self, index: Any, value: int, k: int) -> Callable[[np.ndarray], np.ndarray]:
        """A one-query search function with the sweep knob set to value."""
        if self.lib == "hnswlib":
            index.set_ef(value)
            return lambda q: index.knn_query(q, k=k, num_threads=1)[0][0]
        if self.method == "HNSWFlat":
            index.hnsw.efSearch = value
        else:
            index.nprobe = value
        return lambda q: index.search(q[None, :], k)[1][0]


def configs(libs: list[str], names: list[str], efc: int) -> list[Config]:
    """The configurations named (ivf, hnsw16, hnsw32, faiss-hnsw32), in that order."""
    table = {
        "ivf": ("faiss", lambda: Config("faiss", "IVFFlat", {}, "nprobe", NPROBE)),
        "hnsw16": (
            "hnswlib",
            lambda: Config("hnswlib", "HNSW", {"M": 16, "ef_construction": efc}, "ef", EF_SEARCH),
        ),
        "hnsw32": (
            "hnswlib",
            lambda: Config("hnswlib", "HNSW", {"M": 32, "ef_construction": efc}, "ef", EF_SEARCH),
        ),
        "faiss-hnsw32": (
            "faiss",
            lambda: Config(
                "faiss", "HNSWFlat", {"M": 32, "ef_construction": efc}, "efSearch", EF_SEARCH
            ),
        ),
    }
    return [table[n][1]() for n in table if n in names and table[n][0] in libs]


def extrapolate(seconds: float, n_from: int, n_to: int) -> float:
    """Build time scaled by N log N."""
    return seconds * (n_to / n_from) * (math.log(n_to) / math.log(n_from))


def spherical_kmeans(rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster of each row (20 Lloyd iterations on cosine, seeded from random rows)."""
    centres = rows[rng.choice(len(rows), size=k, replace=False)].copy()
    assign = np.zeros(len(rows), dtype=np.int64)
    for _ in range(20):
        assign = np.argmax(rows @ centres.T, axis=1)
        for c in range(k):
            members = rows[assign == c]
            if len(members):
                centres[c] = members.mean(axis=0)
        normalise(centres)
    return assign


class Mixture:
    """A Gaussian mixture fitted to unit rows: cluster means and one pooled covariance.

    Samples are fresh points (not noisy copies of the seed), so a corpus far larger than the
    seed has no clumps of near-duplicates; ``scale`` multiplies the within-cluster spread.
    """

    def __init__(self, seed_rows: np.ndarray, clusters: int, rng: np.random.Generator) -> None:
        clusters = max(1, min(clusters, len(seed_rows) // 10))
        assign = spherical_kmeans(seed_rows, clusters, rng)
        self.means = np.stack(
            [seed_rows[assign == c].mean(axis=0) for c in range(clusters) if (assign == c).any()]
        ).astype(np.float32)
        kept = [c for c in range(clusters) if (assign == c).any()]
        counts = np.bincount(assign, minlength=clusters)[kept]
        self.weights = counts / counts.sum()
        remap = np.full(clusters, -1)
        remap[kept] = np.arange(len(kept))
        resid = seed_rows - self.means[remap[assign]]
        cov = resid.T.astype(np.float64) @ resid / max(len(seed_rows) - len(kept), 1)
        w, v = np.linalg.eigh(cov)
        self.factor = (v * np.sqrt(np.clip(w, 0, None))).T.astype(np.float32)
        self.clusters = len(kept)

    def sample(self, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
        """n unit rows, built in chunks."""
        out = np.empty((n, DIM), dtype=np.float32)
        for s in range(0, n, CHUNK):
            m = min(CHUNK, n - s)
            comp = rng.choice(self.clusters, size=m, p=self.weights)
            z = rng.standard_normal((m, DIM), dtype=np.float32)
            out[s : s + m] = self.means[comp] + np.float32(scale) * (z @ self.factor)
            normalise(out[s : s + m])
        return out


def synthetic_seed(rng: np.random.Generator, rows: int = 30_000) -> np.ndarray:
    """Clustered synthetic stand-in for e5 vectors: 64 anisotropic clusters around one direction.

    Like e5 passages, every pair of rows is fairly similar (a shared mean direction) and the
    variation sits in a few hundred decaying directions; without real vectors this is only a
    plausible shape, not a measurement of ours.
    """
    axis = normalise(rng.standard_normal((1, DIM), dtype=np.float32))[0]
    spectrum = (1.0 / np.arange(1, DIM + 1)) ** 0.5
    basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].astype(np.float32)
    shape = (basis * spectrum.astype(np.float32)).T
    centres = normalise(
        axis + 0.6 * normalise(rng.standard_normal((64, DIM), dtype=np.float32) @ shape)
    )
    comp = rng.integers(0, 64, rows)
    within = normalise(rng.standard_normal((rows, DIM), dtype=np.float32) @ shape)
    return normalise(centres[comp] + 0.35 * within)


def make_corpus(
    args: argparse.Namespace, real: np.ndarray | None, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Corpus X (n rows), queries Q and a description of how they were made.

    Queries are held-out seed vectors; the corpus is sampled from a mixture fitted to the rest
    of the seed, its spread calibrated at the seed's own size (where real figures exist): the
    scale whose synthetic corpus of len(base) rows gives the held-out queries the mean top-1
    and top-k cosine closest to the real base's. Larger N then is denser in the same way a
    bigger real corpus would be.
    """
    q_count = args.queries
    if args.random:
        X = np.vstack(
            [
                normalise(rng.standard_normal((min(CHUNK, n - s), DIM), np.float32))
                for s in range(0, n, CHUNK)
            ]
        )
        Q = normalise(rng.standard_normal((q_count, DIM), dtype=np.float32))
        return X, Q, {"kind": "random unit vectors"}
    info: dict[str, Any] = {}
    if real is None:
        real = synthetic_seed(np.random.default_rng(args.seed + 7))
        info["kind"] = (
            "clustered synthetic (no usable e5 cache): 64 anisotropic clusters, mixture sampled"
        )
    else:
        info["kind"] = "mixture fitted to real e5 passage vectors (queries: held-out real ones)"
    fit_rng = np.random.default_rng(args.seed + 3)
    perm = fit_rng.permutation(len(real))
    held, base = real[perm[:q_count]], real[perm[q_count:]]
    _, real_scores = exact_topk(base, held, args.k)
    mixture = Mixture(base, args.clusters, fit_rng)
    info.update(
        {
            "seed_vectors": len(real),
            "base_rows": len(base),
            "clusters": mixture.clusters,
            "real_nn_at_base_size": cos_stats(real_scores, args.k),
        }
    )
    target = np.array(list(info["real_nn_at_base_size"].values()))
    calibration = []
    for scale in SCALES:
        sample = mixture.sample(len(base), scale, np.random.default_rng(args.seed + 11))
        stats = cos_stats(exact_topk(sample, held, args.k)[1], args.k)
        err = float(np.abs(np.array(list(stats.values())) - target).sum())
        calibration.append({"scale": scale, **stats, "abs_error": round(err, 4)})
    best = min(calibration, key=lambda c: c["abs_error"])
    info.update({"scale": best["scale"], "calibration": calibration})
    log(f"  scale {best['scale']}: {best} (real {info['real_nn_at_base_size']})")
    X = mixture.sample(n, best["scale"], rng)
    return X, held.copy(), info


def measure_config(
    cfg: Config,
    X: np.ndarray,
    Q: np.ndarray,
    truth: np.ndarray,
    args: argparse.Namespace,
    deadline: float,
) -> dict[str, Any]:
    """Build one index (until deadline at most) and sweep its query knob."""
    ks = args.ks
    gc.collect()
    rss0 = rss_mb()
    before = cpu_snapshot()
    t, c = time.perf_counter(), time.process_time()
    index, built = cfg.build(X, args.seed, deadline)
    build_s, build_cpu_s = time.perf_counter() - t, time.process_time() - c
    load = foreign_cores(before, cpu_snapshot())
    row: dict[str, Any] = {
        "lib": cfg.lib,
        "method": cfg.method,
        "params": dict(cfg.params),
        "n_built": built,
        "build_s": round(build_s, 1),
        "build_cpu_s": round(build_cpu_s, 1),
        "rss_delta_mb": round(rss_mb() - rss0, 1),
        "build_foreign_cpu_cores": load,
        "sweep": [],
    }
    log(
        f"  {cfg.key} n={built} built in {build_s:.1f} s ({build_cpu_s:.1f} s CPU),"
        f" +{row['rss_delta_mb']} MB, foreign load {load}"
    )
    if built < len(X):
        row["note"] = f"build stopped at the deadline: measured at {built} of {len(X)} rows"
        with threadpool_limits(1, user_api="blas"):
            truth = exact_topk(X[:built], Q, max(ks))[0]
    for value in cfg.values:
        fn = cfg.searcher(index, value, max(ks))
        before = cpu_snapshot()
        ms, cpu, found = timed(fn, Q)
        point = {
            cfg.sweep: value,
            **recalls(found, truth, ks),
            **pct(ms, cpu),
            "foreign_cpu_cores": foreign_cores(before, cpu_snapshot()),
        }
        row["sweep"].append(point)
        log(f"    {cfg.sweep}={value}: {recalls(found, truth, ks)} p50 {point['p50_ms']} ms")
    del index
    gc.collect()
    return row


def main() -> None:
    """Parse arguments, run every size, print the JSON document."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=50, help="recall@k (also reported at 2k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--libs", default="hnswlib,faiss")
    ap.add_argument("--configs", default="ivf,hnsw16", help="of ivf,hnsw16,hnsw32,faiss-hnsw32")
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--clusters", type=int, default=32, help="mixture components")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "cache")
    ap.add_argument("--random", action="store_true", help="plain random unit vectors")
    ap.add_argument("--budget-s", type=float, default=2400.0, help="wall clock, whole run")
    ap.add_argument("--build-cap-s", type=float, default=1500.0, help="wall clock per build")
    args = ap.parse_args()
    args.ks = (args.k, 2 * args.k)
    t0 = time.monotonic()

    versions: dict[str, str | None] = {"python": platform.python_version(), "numpy": np.__version__}
    libs, missing = [], {}
    for name in args.libs.split(","):
        try:
            importlib.import_module(name)
            versions[name] = metadata.version("faiss-cpu" if name == "faiss" else name)
            libs.append(name)
        except ImportError as exc:
            missing[name] = (
                f"not installed ({exc}); pip install {name.replace('faiss', 'faiss-cpu')}"
            )
    doc: dict[str, Any] = {
        "bench": "ann",
        "versions": versions,
        "missing": missing,
        "cpus": os.cpu_count(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    if missing:
        log(f"missing optional libraries: {missing}")
    if not libs:
        doc["note"] = "no ANN library installed; nothing measured"
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if "faiss" in libs:
        import faiss

        faiss.omp_set_num_threads(1)

    real = None if args.random else load_real(args.cache)
    if real is None and not args.random:
        log(f"no usable *.passage.npz under {args.cache}: clustered synthetic data instead")
    rng = np.random.default_rng(args.seed)
    prev: dict[str, tuple[int, float]] = {}
    doc["sizes"] = []
    for n in (int(s) for s in args.sizes.split(",")):
        log(f"N={n}: making corpus")
        start = time.monotonic()
        with threadpool_limits(1, user_api="blas"):
            X, Q, info = make_corpus(args, real, n, rng)
            truth, scores = exact_topk(X, Q, max(args.ks))
        info["synthetic_nn_at_n"] = cos_stats(scores, args.k)
        entry: dict[str, Any] = {"n": n, "data": info, "corpus_mb": round(X.nbytes / 2**20, 1)}
        log(f"N={n}: exact baseline")
        entry["exact"] = measure_exact(X, Q, truth, args.ks)
        entry["configs"] = []
        for cfg in configs(libs, args.configs.split(","), args.ef_construction):
            now = time.monotonic()
            left = min(args.build_cap_s, args.budget_s - (now - t0) - RESERVE_S)
            est = extrapolate(prev[cfg.key][1], prev[cfg.key][0], n) if cfg.key in prev else 0.0
            # IVF cannot stop half-way; graphs stop at the deadline, but not before one chunk.
            floor = est if cfg.method == "IVFFlat" else est * ADD_CHUNK / n
            if left <= 0 or floor > left:
                note = f"estimated build {est:.0f} s at N={n}, {max(left, 0):.0f} s left"
                log(f"  skip {cfg.key}: {note}")
                entry["configs"].append(
                    {"lib": cfg.lib, "method": cfg.method, "params": cfg.params, "skipped": note}
                )
                continue
            if est:
                log(f"  {cfg.key}: estimated build {est:.0f} s, {left:.0f} s allowed")
            row = measure_config(cfg, X, Q, truth, args, now + left)
            if row["n_built"] == n:
                prev[cfg.key] = (n, row["build_s"])
            entry["configs"].append(row)
        entry["wall_s"] = round(time.monotonic() - start, 1)
        doc["sizes"].append(entry)
        del X
        gc.collect()
    doc["wall_s"] = round(time.monotonic() - t0, 1)
    print(json.dumps(doc, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
