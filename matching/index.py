"""An exact in-memory vector index: one float32 matrix, brute-force inner products.

At 10^6 rows a top-k query reads the whole matrix once (one BLAS gemv) and selects with
argpartition; measured in bench/query.py against a plain numpy baseline.
"""

import threading
from collections.abc import Hashable, Iterable, Sequence

import numpy as np


class VectorIndex:
    """Rows keyed by id; add, replace and remove in place; top-k by inner product."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._matrix = np.zeros((max(capacity, 1), dim), dtype=np.float32)
        self._ids: list[Hashable] = []
        self._row: dict[Hashable, int] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._row

    @property
    def ids(self) -> list[Hashable]:
        """Ids in row order."""
        return list(self._ids)

    @property
    def matrix(self) -> np.ndarray:
        """The live rows (a view; do not write)."""
        return self._matrix[: len(self._ids)]

    def _grow(self, needed: int) -> None:
        if needed <= self._matrix.shape[0]:
            return
        size = max(needed, 2 * self._matrix.shape[0])
        grown = np.zeros((size, self.dim), dtype=np.float32)
        grown[: len(self._ids)] = self._matrix[: len(self._ids)]
        self._matrix = grown

    def upsert(self, keys: Sequence[Hashable], vectors: np.ndarray) -> None:
        """Insert or replace rows."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        with self._lock:
            new = [k for k in dict.fromkeys(keys) if k not in self._row]
            self._grow(len(self._ids) + len(new))
            start = len(self._ids)
            self._row.update(zip(new, range(start, start + len(new)), strict=True))
            self._ids.extend(new)
            # One fancy-indexed assignment; with repeated keys the last vector wins.
            self._matrix[[self._row[k] for k in keys]] = vectors

    def remove(self, keys: Iterable[Hashable]) -> list[Hashable]:
        """Drop rows (the last row moves into the hole); returns the keys that moved."""
        moved: list[Hashable] = []
        with self._lock:
            for key in keys:
                row = self._row.pop(key, None)
                if row is None:
                    continue
                last = len(self._ids) - 1
                if row != last:
                    key_moved = self._ids[last]
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = key_moved
                    self._row[key_moved] = row
                    moved.append(key_moved)
                self._ids.pop()
        return moved

    def positions(self, keys: Sequence[Hashable]) -> np.ndarray:
        """The row of each key (-1 for keys without a row), to align other arrays with rows."""
        row_of = self._row
        return np.fromiter((row_of.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))

    def vector(self, key: Hashable) -> np.ndarray | None:
        """The stored row of `key`."""
        row = self._row.get(key)
        return None if row is None else self._matrix[row].copy()

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Inner products of one query with every row, in row order."""
        return self.matrix @ np.asarray(query, dtype=np.float32).reshape(self.dim)

    def search(self, query: np.ndarray, k: int) -> tuple[list[Hashable], np.ndarray]:
        """The k best rows for one query, best first."""
        with self._lock:
            scores = self.scores(query)
            top = top_k(scores, k)
            return [self._ids[i] for i in top], scores[top]

    def search_batch(self, queries: np.ndarray, k: int) -> list[tuple[list[Hashable], np.ndarray]]:
        """The k best rows for each of several queries (one matrix product)."""
        with self._lock:
            scores = np.asarray(queries, dtype=np.float32) @ self.matrix.T
            out = []
            for row in scores:
                top = top_k(row, k)
                out.append(([self._ids[i] for i in top], row[top]))
            return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, largest first."""
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
