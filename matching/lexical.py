"""Lexical similarity: TF-IDF over character n-grams, kept current as documents come and go.

Character 1-3-grams suit Chinese (no word boundaries) and keep exact product names, standards
and part numbers (IGBT, Q345E, GB/T 3077) decisive. Single characters were left out once, for
traps such as 机床 vs 床上用品; on real company data they carry paraphrases (钢 in 钢板 and
特殊钢) and measured better (README, "Matching quality"), and the other signals absorb the traps.
"""

import threading
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

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


class LexicalIndex:
    """TF-IDF cosine between a query text and every stored document.

    Term counts are hashed (no vocabulary to refit); IDF and row norms are recomputed lazily
    after changes, so scores always reflect the current corpus.
    """

    def __init__(
        self, n_features: int = 2**20, ngrams: tuple[int, int] = NGRAMS, sublinear: bool = False
    ) -> None:
        self.n_features = n_features
        self.sublinear = sublinear
        self._vectorizer = _vectorizer(n_features, ngrams)
        self._tf: dict[Hashable, sp.csr_matrix] = {}
        self._lock = threading.RLock()
        self._dirty = True
        self._ids: list[Hashable] = []
        self._row: dict[Hashable, int] = {}
        # Bumped on every rebuild, so callers can cache what they derive from the row order.
        self.generation = 0
        self._weighted: sp.csr_matrix | None = None
        # The transpose, kept so a query is one sparse row times a CSR matrix.
        self._weighted_t: sp.csr_matrix | None = None
        self.idf_: np.ndarray = np.ones(n_features, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._tf)

    def _term_frequencies(self, texts: Sequence[str]) -> sp.csr_matrix:
        tf = self._vectorizer.transform(list(texts)).tocsr().astype(np.float32)
        if self.sublinear:
            tf.data = 1.0 + np.log(tf.data)
        return tf

    def fit(self, keys: Sequence[Hashable], texts: Sequence[str]) -> "LexicalIndex":
        """Replace the corpus."""
        with self._lock:
            self._tf = {}
            self.upsert(keys, texts)
        return self

    def upsert(self, keys: Sequence[Hashable], texts: Sequence[str]) -> None:
        """Add or replace documents."""
        if not keys:
            return
        tf = self._term_frequencies(texts)
        with self._lock:
            for i, key in enumerate(keys):
                self._tf[key] = tf[i]
            self._dirty = True

    def remove(self, keys: Iterable[Hashable]) -> None:
        """Drop documents."""
        with self._lock:
            for key in keys:
                self._tf.pop(key, None)
            self._dirty = True

    def _queries(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Normalised TF-IDF rows of query texts under the current IDF."""
        return normalize(self._term_frequencies(texts).multiply(self.idf_).tocsr())

    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._ids = list(self._tf)
        self._row = {key: i for i, key in enumerate(self._ids)}
        self.generation += 1
        if not self._ids:
            self._weighted = sp.csr_matrix((0, self.n_features), dtype=np.float32)
            self._weighted_t = self._weighted.T.tocsr()
            self._dirty = False
            return
        tf = sp.vstack([self._tf[k] for k in self._ids]).tocsr()
        df = np.bincount(tf.indices, minlength=self.n_features)
        n = tf.shape[0]
        self.idf_ = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        self._weighted = normalize(tf @ sp.diags(self.idf_), copy=False).tocsr()
        self._weighted_t = self._weighted.T.tocsr()
        self._dirty = False

    @property
    def ids(self) -> list[Hashable]:
        """Document ids in the row order of `scores`."""
        with self._lock:
            self._refresh()
            return list(self._ids)

    def scores(self, text: str) -> tuple[list[Hashable], np.ndarray]:
        """Cosine of the query with every document, and the document ids in that order."""
        ids, values = self.scores_many([text])
        return ids, values[0]

    def scores_many(self, texts: Sequence[str]) -> tuple[list[Hashable], np.ndarray]:
        """Cosines of several queries (rows) with every document (columns)."""
        with self._lock:
            self._refresh()
            q = self._queries(texts)
            values = (q @ self._weighted_t).toarray().astype(np.float32, copy=False)
            return list(self._ids), values.reshape(len(texts), len(self._ids))

    def values(self, text: str) -> np.ndarray:
        """Cosine of the query with every document, in the order of `row_keys()`."""
        with self._lock:
            self._refresh()
            q = self._queries([text])
            return (q @ self._weighted_t).toarray().ravel()

    def row_keys(self) -> tuple[int, list[Hashable]]:
        """The current row order (not a copy: do not change it) and its generation."""
        with self._lock:
            self._refresh()
            return self.generation, self._ids
