"""Lexical similarity: TF-IDF over character n-grams, kept current as documents come and go.

Character 1-3-grams suit Chinese (no word boundaries) and keep exact product names, standards
and part numbers (IGBT, Q345E, GB/T 3077) decisive. Single characters were left out once, for
traps such as 机床 vs 床上用品; on real company data they carry paraphrases (钢 in 钢板 and
特殊钢) and measured better (README, "Matching quality"), and the other signals absorb the traps.

Writes are absorbed without rebuilding the corpus. Every document keeps one row for its life
(a removed one leaves a dead row; one added again gets a new row, so the live rows stay in the
order they were first written). The index is an immutable snapshot (term counts, IDF, and the
transposed weighted matrix that scores a query against every row in one sparse product) plus a
delta: rows written since, weighted with the snapshot's IDF. A small corpus (`exact_rows`) is
rebuilt before the next read after any write, so its scores are exact TF-IDF of the current
corpus; a large one is rebuilt when the delta outgrows `max(delta_rows, delta_share * rows)`,
in a background thread that swaps the new snapshot in at the end: no read rebuilds the corpus
or waits for a rebuild, and until the swap the delta's rows use the old IDF.
"""

import threading
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from matching.ngrams import char_ngram_counts
from matching.priority import lower_thread_priority

NGRAMS = (1, 3)


def _vectorizer(n_features: int, ngrams: tuple[int, int] = NGRAMS) -> HashingVectorizer:
    return HashingVectorizer(
        analyzer="char",
        ngram_range=ngrams,
        n_features=n_features,
        alternate_sign=False,
        norm=None,
        lowercase=True,
    )


class _Snapshot:
    """Term counts, IDF and the transposed weighted matrix of rows [0, len(self))."""

    __slots__ = ("idf", "rows", "tf", "weighted_t")

    def __init__(self, tf: sp.csr_matrix, idf: np.ndarray, weighted_t: sp.csr_matrix) -> None:
        self.tf = tf
        self.idf = idf
        self.weighted_t = weighted_t
        self.rows = tf.shape[0]


class LexicalIndex:
    """TF-IDF cosine between a query text and every stored document (see the module notes)."""

    def __init__(
        self,
        n_features: int = 2**20,
        ngrams: tuple[int, int] = NGRAMS,
        sublinear: bool = False,
        exact_rows: int = 5000,
        delta_rows: int = 1000,
        delta_share: float = 0.1,
        background: bool = True,
        rebuild_nice: int = 10,
    ) -> None:
        self.n_features = n_features
        self.sublinear = sublinear
        self.exact_rows = exact_rows
        self.delta_rows = delta_rows
        self.delta_share = delta_share
        self.background = background
        # The background rebuild runs at a lower priority than the requests it must not slow.
        self.rebuild_nice = rebuild_nice
        self._vectorizer = _vectorizer(n_features, ngrams)
        self._lock = threading.RLock()
        self._row: dict[Hashable, int] = {}
        self._keys: list[Hashable | None] = []
        self._alive = np.zeros(0, dtype=bool)
        empty = sp.csr_matrix((0, n_features), dtype=np.float32)
        self._snapshot = _Snapshot(empty, np.ones(n_features, dtype=np.float32), empty.T.tocsr())
        # Written since the snapshot: blocks of (rows, term counts); a later block wins a row.
        self._blocks: list[tuple[np.ndarray, sp.csr_matrix]] = []
        # Removals since the snapshot (its IDF still counts them).
        self._removed = 0
        # The delta's rows, their weighted rows and the transpose (postings per term).
        self._delta: tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None = None
        self._rebuilding: threading.Thread | None = None
        # Bumped on every swap of the snapshot.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._row)

    @property
    def idf_(self) -> np.ndarray:
        """The IDF of the current snapshot."""
        return self._snapshot.idf

    @property
    def row_count(self) -> int:
        """Rows ever assigned (live and dead)."""
        return len(self._keys)

    def _counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw n-gram counts of texts, hashed to this index's features (as the vectorizer)."""
        return char_ngram_counts(texts, self._vectorizer.ngram_range, self.n_features)

    def counts(self, texts: Sequence[str], like: "LexicalIndex | None" = None) -> sp.csr_matrix:
        """Raw n-gram counts of texts for this index, folded from `like`'s when they agree.

        Hashed features of a power-of-two width fold exactly into a narrower one (the hash
        modulo the width), so one pass over the texts serves two indexes of the same n-grams.
        """
        if like is None or not self.folds_from(like):
            return self._counts(texts)
        return self.fold(like._counts(texts))

    def folds_from(self, other: "LexicalIndex") -> bool:
        """Whether `other`'s raw counts fold exactly into this index's features."""
        return (
            self._vectorizer.ngram_range == other._vectorizer.ngram_range
            and other.n_features % self.n_features == 0
            and self.n_features & (self.n_features - 1) == 0
        )

    def fold(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Counts of a wider index of the same n-grams, folded into this one's features."""
        if counts.shape[1] == self.n_features:
            return counts
        folded = sp.csr_matrix(
            (counts.data, counts.indices % self.n_features, counts.indptr),
            shape=(counts.shape[0], self.n_features),
        )
        folded.sum_duplicates()
        return folded

    def _term_frequencies(
        self, texts: Sequence[str], counts: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        tf = self._counts(texts) if counts is None else counts.copy()
        if self.sublinear:
            tf.data = 1.0 + np.log(tf.data)
        return tf

    def fit(self, keys: Sequence[Hashable], texts: Sequence[str]) -> "LexicalIndex":
        """Replace the corpus."""
        with self._lock:
            self.remove(list(self._row))
            self.upsert(keys, texts)
        return self

    def upsert(
        self,
        keys: Sequence[Hashable],
        texts: Sequence[str],
        counts: sp.csr_matrix | None = None,
    ) -> None:
        """Add or replace documents (`counts`: their `counts(texts)`, when already made)."""
        if not len(keys):
            return
        tf = self._term_frequencies(texts, counts)
        with self._lock:
            rows = np.empty(len(keys), dtype=np.int64)
            for i, key in enumerate(keys):
                row = self._row.get(key)
                if row is None:
                    row = len(self._keys)
                    self._row[key] = row
                    self._keys.append(key)
                rows[i] = row
            if len(self._keys) > self._alive.size:
                grown = np.zeros(max(len(self._keys), 2 * self._alive.size), dtype=bool)
                grown[: self._alive.size] = self._alive
                self._alive = grown
            self._alive[rows] = True
            self._blocks.append((rows, tf))
            self._delta = None

    def remove(self, keys: Iterable[Hashable]) -> None:
        """Drop documents (their rows stay, dead)."""
        with self._lock:
            for key in keys:
                row = self._row.pop(key, None)
                if row is not None:
                    self._keys[row] = None
                    self._alive[row] = False
                    self._removed += 1

    # -- rows --------------------------------------------------------------------------------

    def rows(self, keys: Sequence[Hashable]) -> np.ndarray:
        """The row of each key (-1 for unknown keys)."""
        row_of = self._row
        return np.fromiter((row_of.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))

    @property
    def dead(self) -> int:
        """Rows of removed documents."""
        return len(self._keys) - len(self._row)

    def alive(self) -> np.ndarray:
        """Which rows hold a live document (a copy, one flag per row)."""
        with self._lock:
            return self._alive[: len(self._keys)].copy()

    def key_at(self, row: int) -> Hashable | None:
        """The document of a row (None for a dead row)."""
        return self._keys[row]

    # -- upkeep --------------------------------------------------------------------------------

    def _latest(self) -> tuple[np.ndarray, sp.csr_matrix]:
        """The rows written since the snapshot and their latest term counts, in row order."""
        rows = np.concatenate([r for r, _ in self._blocks])
        tf = sp.vstack([t for _, t in self._blocks], format="csr") if self._blocks else None
        # The last write of a row wins: keep each row's last occurrence.
        order = np.arange(rows.size)
        last = np.full(len(self._keys), -1, dtype=np.int64)
        last[rows] = order
        keep = np.flatnonzero(last >= 0)
        return keep, tf[last[keep]]

    def _build(
        self,
        base: _Snapshot,
        blocks: list[tuple[np.ndarray, sp.csr_matrix]],
        alive: np.ndarray,
    ) -> _Snapshot:
        """A new snapshot of all rows: the base's counts with the blocks' rows replaced."""
        n = alive.size
        written = sum(rows.size for rows, _ in blocks)
        empty = base.rows + written
        # Each row's source in [base rows, block rows..., one empty row]; the last write wins.
        index = np.full(n, empty, dtype=np.int64)
        covered = min(base.rows, n)
        index[:covered] = np.arange(covered)
        offset = base.rows
        for rows, _ in blocks:
            index[rows] = offset + np.arange(rows.size)
            offset += rows.size
        index[~alive] = empty
        parts = [base.tf, *(tf for _, tf in blocks)]
        parts.append(sp.csr_matrix((1, self.n_features), dtype=np.float32))
        tf = sp.vstack(parts, format="csr")[index]
        tf.sort_indices()
        live = int(alive.sum())
        df = np.bincount(tf.indices, minlength=self.n_features)
        idf = (np.log((1.0 + live) / (1.0 + df)) + 1.0).astype(np.float32)
        return _Snapshot(tf, idf, self._weigh(tf, idf).T.tocsr())

    def _limit(self) -> int:
        return max(self.delta_rows, int(self.delta_share * len(self._keys)))

    def _maintain(self) -> None:
        """Before a read: rebuild small corpora now, large ones in the background when due."""
        if not self.pending:
            return
        n = len(self._keys)
        # A snapshot that covers under half of the rows (start-up, a first bulk load) is not
        # worth reading with: the first one is built in the foreground.
        if n <= self.exact_rows or self._snapshot.rows < n // 2:
            self._swap(self._build(self._snapshot, self._blocks, self._alive[:n].copy()))
        elif self.pending > self._limit() and self._rebuilding is None:
            if self.background:
                self._start_rebuild()
            else:
                self._swap(self._build(self._snapshot, self._blocks, self._alive[:n].copy()))

    def _swap(self, snapshot: _Snapshot, blocks: int | None = None, removed: int | None = None):
        """Install a snapshot built from the first `blocks` blocks and `removed` removals."""
        blocks = len(self._blocks) if blocks is None else blocks
        self._snapshot = snapshot
        self._blocks = self._blocks[blocks:]
        self._removed -= self._removed if removed is None else removed
        self._delta = None
        self.generation += 1

    def _start_rebuild(self) -> None:
        base, blocks, removed = self._snapshot, list(self._blocks), self._removed
        alive = self._alive[: len(self._keys)].copy()

        def run() -> None:
            try:
                lower_thread_priority(self.rebuild_nice)
                snapshot = self._build(base, blocks, alive)
                with self._lock:
                    if self._snapshot is base:  # no foreground rebuild came first
                        self._swap(snapshot, len(blocks), removed)
            finally:
                with self._lock:
                    self._rebuilding = None

        self._rebuilding = threading.Thread(target=run, name="lexical-rebuild", daemon=True)
        self._rebuilding.start()

    def refresh(self) -> None:
        """Fold every write into a new snapshot now (exact scores of the current corpus)."""
        thread = self._rebuilding
        if thread is not None:
            thread.join()
        with self._lock:
            if self.pending:
                n = len(self._keys)
                self._swap(self._build(self._snapshot, self._blocks, self._alive[:n].copy()))

    @property
    def pending(self) -> int:
        """Writes (rows written or removed) not yet in the snapshot's IDF."""
        return sum(rows.size for rows, _ in self._blocks) + self._removed

    def _delta_weighted(self) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None:
        if not self._blocks:
            return None
        if self._delta is None:
            rows, tf = self._latest()
            weighted = self._weigh(tf, self._snapshot.idf)
            self._delta = (rows, weighted, weighted.T.tocsr())
        return self._delta

    @staticmethod
    def _weigh(tf: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        """Normalised TF-IDF rows, terms ascending (as in a query, so sums run alike)."""
        weighted = tf.copy()
        weighted.data *= idf[weighted.indices]
        return normalize(weighted, copy=False)

    @staticmethod
    def _dot_rows(weighted: sp.csr_matrix, q: sp.csr_matrix) -> np.ndarray:
        """Cosine of each row with one query row, computed as the full product computes it.

        Restricted to the query's terms first: a product with the transposed query would
        allocate an index over every hashed feature per call.
        """
        terms = q.indices
        if not terms.size or not weighted.nnz:
            return np.zeros(weighted.shape[0], dtype=np.float32)
        at = np.minimum(np.searchsorted(terms, weighted.indices), terms.size - 1)
        hit = terms[at] == weighted.indices
        starts = np.concatenate(([0], np.cumsum(hit)))[weighted.indptr]
        small = sp.csr_matrix(
            (weighted.data[hit], at[hit], starts), shape=(weighted.shape[0], terms.size)
        )
        column = sp.csr_matrix(
            (q.data, np.zeros(terms.size, dtype=np.int32), np.arange(terms.size + 1)),
            shape=(terms.size, 1),
        )
        return (small @ column).toarray().ravel()

    # -- scoring -------------------------------------------------------------------------------

    def _queries(
        self, texts: Sequence[str], idf: np.ndarray, counts: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """Normalised TF-IDF rows of query texts under an IDF."""
        q = normalize(self._term_frequencies(texts, counts).multiply(idf).tocsr())
        q.sort_indices()
        return q

    def row_scores_many(
        self, texts: Sequence[str], counts: sp.csr_matrix | None = None
    ) -> np.ndarray:
        """Cosines of several queries (rows) with every row (columns; dead rows score 0)."""
        with self._lock:
            self._maintain()
            snapshot, delta = self._snapshot, self._delta_weighted()
            n = len(self._keys)
            alive = self._alive[:n]
            q = self._queries(texts, snapshot.idf, counts)
            out = np.zeros((len(texts), n), dtype=np.float32)
            if snapshot.rows:
                out[:, : snapshot.rows] = self._product(q, snapshot.weighted_t)
            if delta is not None:
                # The delta by its postings too: a pass over its every entry per query would
                # cost tens of ms once it holds 10^4 rows.
                out[:, delta[0]] = self._product(q, delta[2])
            if len(self._row) < n:
                out[:, ~alive] = 0.0
            return out

    @staticmethod
    def _product(q: sp.csr_matrix, weighted_t: sp.csr_matrix) -> np.ndarray:
        """Cosines of query rows with the columns of a transposed weighted matrix."""
        if q.shape[0] > 1:
            return (q @ weighted_t).toarray()
        out = np.zeros((1, weighted_t.shape[1]), dtype=np.float32)
        if q.nnz:
            # One query: the postings of its terms only, accumulated term by term (in the
            # order the sparse product sums them, without building a sparse result).
            out[0] = weighted_t[q.indices].T @ q.data
        return out

    def row_scores(self, text: str) -> np.ndarray:
        """Cosine of the query with every row (dead rows score 0)."""
        return self.row_scores_many([text])[0]

    def gather_scores(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Cosine of the query with the given rows only (no pass over the corpus)."""
        rows = np.asarray(rows, dtype=np.int64)
        with self._lock:
            self._maintain()
            snapshot, delta = self._snapshot, self._delta_weighted()
            q = self._queries([text], snapshot.idf)
            out = np.zeros(rows.size, dtype=np.float32)
            if not rows.size:
                return out
            source = np.full(rows.size, -1, dtype=np.int64)
            if delta is not None:
                at = np.searchsorted(delta[0], rows)
                hit = (at < delta[0].size) & (delta[0][np.minimum(at, delta[0].size - 1)] == rows)
                source[hit] = at[hit]
                if hit.any():
                    out[hit] = self._dot_rows(delta[1][source[hit]], q)
            main = (source < 0) & (rows < snapshot.rows)
            if main.any():
                weighted = self._weigh(snapshot.tf[rows[main]], snapshot.idf)
                out[main] = self._dot_rows(weighted, q)
            out[~self._alive[rows]] = 0.0
            return out

    # -- by key (the live documents in row order) -----------------------------------------------

    @property
    def ids(self) -> list[Hashable]:
        """Live document ids in the order of `scores`."""
        with self._lock:
            return [k for k in self._keys if k is not None]

    def scores(self, text: str) -> tuple[list[Hashable], np.ndarray]:
        """Cosine of the query with every document, and the document ids in that order."""
        ids, values = self.scores_many([text])
        return ids, values[0]

    def scores_many(
        self, texts: Sequence[str], counts: sp.csr_matrix | None = None
    ) -> tuple[list[Hashable], np.ndarray]:
        """Cosines of several queries (rows) with every live document (columns)."""
        with self._lock:
            values = self.row_scores_many(texts, counts)
            alive = self._alive[: len(self._keys)]
            return self.ids, values[:, alive]
