"""The hybrid matcher: dense + lexical + structured signals fused into one explained score.

Both directions use the same pair features, so a pair scores alike whichever side asks.
"""

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

from matching.documents import DemandDoc, ProfileDoc, demand_text, product_texts, profile_text
from matching.explain import reasons
from matching.features import FusionWeights, PairFeatures, fuse, pair_features
from matching.index import VectorIndex
from matching.lexical import LexicalIndex
from matching.placement import LinkPlacer
from matching.terms import key_terms, prepare_terms


@dataclass
class Match:
    """One ranked counterpart with its score breakdown and reasons."""

    id: Hashable
    score: float
    rank: int
    components: dict[str, float]
    reasons: list[str]
    features: PairFeatures = field(repr=False)


@dataclass(frozen=True)
class ProfileFilter:
    """Hard filters an organizer sets on a profile ranking (`ids`: only these profiles)."""

    chain: str | None = None
    city: str | None = None
    tier: str | None = None
    certification: str | None = None
    ids: frozenset[Hashable] | None = None

    def __call__(self, p: ProfileDoc) -> bool:
        return (
            (self.chain is None or self.chain in p.chains)
            and (self.city is None or p.city == self.city)
            and (self.tier is None or p.tier == self.tier)
            and (self.certification is None or self.certification in p.certifications)
            and (self.ids is None or p.id in self.ids)
        )

    @property
    def active(self) -> bool:
        return any(
            v is not None for v in (self.chain, self.city, self.tier, self.certification, self.ids)
        )

    def terms(self) -> list[tuple[str, object]]:
        """The (field, value) postings a profile must hold, as `_Postings` keys them."""
        pairs = [("chain", self.chain), ("city", self.city), ("tier", self.tier)]
        pairs.append(("cert", self.certification))
        return [(f, v) for f, v in pairs if v is not None]


@dataclass(frozen=True)
class DemandFilter:
    """Hard filters on a need ranking: open on a day (see `DemandDoc.is_open`)."""

    open_on: date | None = None

    def __call__(self, n: DemandDoc) -> bool:
        return self.open_on is None or n.is_open(self.open_on)


def _profile_postings(p: ProfileDoc) -> list[tuple[str, object]]:
    """What a ProfileFilter or a need's link can select a profile by."""
    pairs: list[tuple[str, object]] = [("city", p.city), ("tier", p.tier)]
    pairs += [("chain", c) for c in p.chains]
    pairs += [("cert", c) for c in p.certifications]
    pairs += [("link", x) for x in p.links]
    return [(f, v) for f, v in pairs if v is not None]


class _Postings:
    """Rows per (field, value), for filter masks without a pass over the documents."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, object], set[int]] = {}

    def add(self, row: int, pairs: Iterable[tuple[str, object]]) -> None:
        for pair in pairs:
            self._rows.setdefault(pair, set()).add(row)

    def discard(self, row: int, pairs: Iterable[tuple[str, object]]) -> None:
        for pair in pairs:
            rows = self._rows.get(pair)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self._rows[pair]

    def mask(self, pair: tuple[str, object], n: int) -> np.ndarray:
        """Rows holding `pair`, as a boolean mask of n rows."""
        out = np.zeros(n, dtype=bool)
        rows = self._rows.get(pair)
        if rows:
            out[np.fromiter(rows, dtype=np.int64, count=len(rows))] = True
        return out


def _store_vectors(store: VectorIndex, keys: Sequence[Hashable], vectors: Sequence) -> list:
    """Put the vectors given in `store` and drop the keys given None; returns the keys whose
    vector rows moved (to be realigned)."""
    given = [(k, v) for k, v in zip(keys, vectors, strict=True) if v is not None]
    if given:
        store.upsert([k for k, _ in given], np.stack([v for _, v in given]))
    return store.remove([k for k, v in zip(keys, vectors, strict=True) if v is None])


def _aligned(old: np.ndarray, n: int) -> np.ndarray:
    """`old` grown to n entries (new ones -1)."""
    if old.size >= n:
        return old
    grown = np.full(max(n, 2 * old.size), -1, dtype=np.int64)
    grown[: old.size] = old
    return grown


def _stats(values: np.ndarray) -> tuple[float, float]:
    """Mean and spread of one query's scores over the corpus (spread 1 when flat)."""
    if values.size == 0:
        return 0.0, 1.0
    std = float(values.std())
    return float(values.mean()), (std if std > 1e-6 else 1.0)


def _relative_stats(values: np.ndarray) -> tuple[float, float]:
    top = float(values.max()) if values.size else 0.0
    return 0.0, (top if top > 0 else 1.0)


NORMALISATIONS = {"z": _stats, "relative": _relative_stats}


# Above this many rows, the top of a signal is selected among the values that reach the k-th
# best of a strided sample (the same top, found in a small fraction of the time; only which of
# several exactly equal values at the boundary is taken may differ).
SAMPLED_TOP_ABOVE = 50_000


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest finite values."""
    if values.size > SAMPLED_TOP_ABOVE and 64 * k < values.size:
        sample = values[:: values.size // (64 * k)]
        sample = sample[np.isfinite(sample)]
        if sample.size >= k:
            # At least k sample values reach the threshold, so every one of the k best does.
            threshold = np.partition(sample, sample.size - k)[sample.size - k]
            candidates = np.flatnonzero(values >= threshold)
            part = np.argpartition(-values[candidates], k - 1)[:k]
            return candidates[part]
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size <= k:
        return finite
    part = np.argpartition(-values[finite], k - 1)[:k]
    return finite[part]


class Matcher:
    """Holds profiles and needs with their vectors; ranks either side for the other.

    Ranking has two stages. The first scores the whole corpus by meaning (one profile vector)
    and by wording (TF-IDF) and normalises each per query (`normalisation`, z-scores by
    default); each signal's own best `candidates / 2` (plus the holders of the need's link)
    form the shortlist. The second stage scores the shortlist in full: every product of a
    profile against the need by meaning and by wording (its best product counts, on the same
    per-query scale as the whole-profile signal), chain link, certificates, tier, region,
    capacity and leaders supplied, fused linearly, so the components add up to the score.
    """

    def __init__(
        self,
        dim: int,
        weights: FusionWeights | None = None,
        candidates: int = 200,
        placer: LinkPlacer | None = None,
        link_names: dict[str, str] | None = None,
        normalisation: str = "z",
        lexical: dict | None = None,
        exact_demands: int = 2000,
        write_chunk: int = 500,
    ) -> None:
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {normalisation!r}")
        self.dim = dim
        self.weights = weights or FusionWeights()
        self.candidates = candidates
        self.placer = placer
        self.link_names = link_names or {}
        self.normalisation = normalisation
        # Up to this many needs, a profile's need ranking scores every need in full.
        self.exact_demands = exact_demands
        # A bulk write takes the lock for this many records at a time, so rankings wait for
        # one chunk (milliseconds), not for a whole import (seconds at 10^4 rows).
        self.write_chunk = max(int(write_chunk), 1)
        self._stats = NORMALISATIONS[normalisation]
        self._lock = threading.RLock()
        lexical = lexical or {}
        self.profiles: dict[Hashable, ProfileDoc] = {}
        self.profile_texts: dict[Hashable, str] = {}
        self.profile_links: dict[Hashable, frozenset[str]] = {}
        self.profile_vectors = VectorIndex(dim)
        # The lexical index numbers the rows; arrays below follow its rows.
        self.profile_lexical = LexicalIndex(**lexical)
        self._profile_dense = np.zeros(0, dtype=np.int64)
        self._profile_postings = _Postings()
        # Per profile: one row per product (rows follow `product_texts`), when encoded.
        self.product_vectors: dict[Hashable, np.ndarray] = {}
        self.product_names: dict[Hashable, list[str]] = {}
        self.product_lexical = LexicalIndex(**{"n_features": 2**19, **lexical})
        self._product_rows: dict[Hashable, np.ndarray] = {}
        self.demands: dict[Hashable, DemandDoc] = {}
        self.demand_texts: dict[Hashable, str] = {}
        self.demand_links: dict[Hashable, frozenset[str]] = {}
        self.demand_vectors = VectorIndex(dim)
        self.demand_lexical = LexicalIndex()
        self._demand_dense = np.zeros(0, dtype=np.int64)
        # Per need row: the last day it is open (DemandDoc.open_until), for DemandFilter masks.
        self._demand_open_until = np.zeros(0, dtype=np.int64)

    def refresh(self) -> None:
        """Fold every pending write into the lexical indexes now (exact TF-IDF)."""
        for index in (self.profile_lexical, self.product_lexical, self.demand_lexical):
            index.refresh()

    # -- maintenance -------------------------------------------------------------------------

    def _placements(self, text: str, vector: np.ndarray | None) -> frozenset[str]:
        return self._placements_many([text], [vector])[0]

    def _placements_many(
        self,
        texts: list[str],
        vectors: list,
        counts: sp.csr_matrix | None = None,
        source: LexicalIndex | None = None,
    ) -> list[frozenset[str]]:
        """Top-3 suggested links of each text (batched: one pass with, one without vectors).

        `counts`: the texts' n-gram counts in `source`, reused when the placer's lexical index
        can fold them into its own features.
        """
        out: list[frozenset[str]] = [frozenset()] * len(texts)
        if self.placer is None or not texts:
            return out
        own = getattr(self.placer, "lexical_", None)
        if counts is not None and (source is None or own is None or not own.folds_from(source)):
            counts = None
        with_vec = [i for i, v in enumerate(vectors) if v is not None]
        without = [i for i, v in enumerate(vectors) if v is None]
        for rows, stacked in (
            (with_vec, np.stack([vectors[i] for i in with_vec]) if with_vec else None),
            (without, None),
        ):
            if not rows:
                continue
            extra = {} if counts is None else {"counts": counts[rows]}
            part = [texts[i] for i in rows]
            if hasattr(self.placer, "codes_many"):
                placed = self.placer.codes_many(part, stacked, k=3, **extra)
            else:
                placed = [
                    frozenset(p.code for p in places)
                    for places in self.placer.place_many(part, stacked, k=3, **extra)
                ]
            for i, codes in zip(rows, placed, strict=True):
                out[i] = codes
        return out

    def set_placer(self, placer: LinkPlacer | None, link_names: dict[str, str]) -> None:
        """Swap the link placer (after a taxonomy or link-vector change) and re-place all."""
        with self._lock:
            self.placer = placer
            self.link_names = link_names
            ids = list(self.profiles)
            links = self._placements_many(
                [self.profile_texts[i] for i in ids], [self.profile_vectors.vector(i) for i in ids]
            )
            self.profile_links = dict(zip(ids, links, strict=True))
            ids = list(self.demands)
            links = self._placements_many(
                [self.demand_texts[i] for i in ids], [self.demand_vectors.vector(i) for i in ids]
            )
            self.demand_links = dict(zip(ids, links, strict=True))

    @staticmethod
    def _split_vectors(names: list[str], value) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(profile vector, product rows) from what was stored for a profile.

        A 1-D value is the profile vector alone (stored before products were encoded); a 2-D
        one has the profile first and then one row per product (`names`, `product_texts`).
        """
        if value is None:
            return None, None
        value = np.asarray(value, dtype=np.float32)
        if value.ndim == 1:
            return value, None
        products = value[1:] if value.shape[0] == len(names) + 1 and names else None
        return value[0], products

    def _in_chunks(self, write: Callable[..., None], *columns: Sequence) -> bool:
        """Whether the columns (docs and their vectors, or ids) are longer than `write_chunk`:
        then `write` has been given them a chunk at a time."""
        n = len(columns[0])
        if n <= self.write_chunk:
            return False
        for start in range(0, n, self.write_chunk):
            write(*(column[start : start + self.write_chunk] for column in columns))
        return True

    @staticmethod
    def _realign(
        aligned: np.ndarray, lexical: LexicalIndex, vectors: VectorIndex, keys: Iterable[Hashable]
    ) -> np.ndarray:
        """Point the lexical rows of `keys` at their current vector rows (-1: no vector)."""
        aligned = _aligned(aligned, lexical.row_count)
        keys = list(keys)
        rows = lexical.rows(keys)
        known = rows >= 0
        aligned[rows[known]] = vectors.positions(
            [k for k, ok in zip(keys, known, strict=True) if ok]
        )
        return aligned

    @classmethod
    def _drop_rows(
        cls, aligned: np.ndarray, lexical: LexicalIndex, vectors: VectorIndex, keys: list
    ) -> np.ndarray:
        """Drop `keys` from one side's lexical and vector indexes; its realigned dense rows."""
        moved = vectors.remove(keys)
        aligned[lexical.rows(keys)] = -1
        lexical.remove(keys)
        return cls._realign(aligned, lexical, vectors, moved)

    def upsert_profiles(
        self, docs: Sequence[ProfileDoc], vectors: np.ndarray | Sequence | None = None
    ) -> None:
        """Add or replace profiles.

        Each vector is None ('not encoded yet': wording only), the profile vector, or the
        rows of `profile_passages(doc)` (profile, then each product). Applied `write_chunk`
        profiles at a time: each profile is written whole, a bulk write is not atomic.
        """
        vectors = list(vectors) if vectors is not None else [None] * len(docs)
        if self._in_chunks(self.upsert_profiles, docs, vectors):
            return
        # A profile whose wording is unchanged (its vector came from the encoding queue) keeps
        # its lexical rows: rewriting them would grow the delta, and a bulk load's vectors would
        # set off a rebuild of the whole corpus in every process.
        same = [i for i, d in enumerate(docs) if self.profiles.get(d.id) == d]
        if same:
            self._revector_profiles([docs[i] for i in same], [vectors[i] for i in same])
            if len(same) == len(docs):
                return
            keep = set(same)
            docs = [d for i, d in enumerate(docs) if i not in keep]
            vectors = [v for i, v in enumerate(vectors) if i not in keep]
        texts = [profile_text(d) for d in docs]
        names = [product_texts(d) for d in docs]
        split = [self._split_vectors(n, v) for n, v in zip(names, vectors, strict=True)]
        whole = [w for w, _ in split]
        # The costly parts (n-gram counts, placements) before the lock: rankings go on meanwhile.
        counts = self.profile_lexical.counts(texts)
        placements = self._placements_many(texts, whole, counts, self.profile_lexical)
        flat_names = [x for n in names for x in n]
        product_counts = self.product_lexical.counts(flat_names)
        ids = [d.id for d in docs]
        with self._lock:
            moved = _store_vectors(self.profile_vectors, ids, whole)
            for doc in docs:
                old = self.profiles.get(doc.id)
                if old is not None:
                    row = int(self.profile_lexical.rows([doc.id])[0])
                    self._profile_postings.discard(row, _profile_postings(old))
            self.profile_lexical.upsert(ids, texts, counts)
            self._profile_dense = self._realign(
                self._profile_dense, self.profile_lexical, self.profile_vectors, [*ids, *moved]
            )
            for doc, row in zip(docs, self.profile_lexical.rows(ids).tolist(), strict=True):
                self._profile_postings.add(row, _profile_postings(doc))
            self.product_lexical.remove(
                (d.id, j) for d in docs for j in range(len(self.product_names.get(d.id, ())))
            )
            keys = [(d.id, j) for d, n in zip(docs, names, strict=True) for j in range(len(n))]
            self.product_lexical.upsert(keys, flat_names, product_counts)
            product_rows = self.product_lexical.rows(keys)
            start = 0
            for doc, text, links, own, (_, products) in zip(
                docs, texts, placements, names, split, strict=True
            ):
                self.profiles[doc.id] = doc
                self.profile_texts[doc.id] = text
                self.profile_links[doc.id] = links
                self.product_names[doc.id] = own
                if own:
                    self._product_rows[doc.id] = product_rows[start : start + len(own)]
                else:
                    self._product_rows.pop(doc.id, None)
                start += len(own)
                if products is not None:
                    self.product_vectors[doc.id] = products
                else:
                    self.product_vectors.pop(doc.id, None)

    def _revector_profiles(self, docs: Sequence[ProfileDoc], vectors: Sequence) -> None:
        """New vectors (and link placements) for profiles whose wording is unchanged."""
        texts = [self.profile_texts[d.id] for d in docs]
        split = [
            self._split_vectors(list(self.product_names.get(d.id, ())), v)
            for d, v in zip(docs, vectors, strict=True)
        ]
        whole = [w for w, _ in split]
        counts = self.profile_lexical.counts(texts)
        placements = self._placements_many(texts, whole, counts, self.profile_lexical)
        ids = [d.id for d in docs]
        with self._lock:
            moved = _store_vectors(self.profile_vectors, ids, whole)
            self._profile_dense = self._realign(
                self._profile_dense, self.profile_lexical, self.profile_vectors, [*ids, *moved]
            )
            for doc, links, (_, products) in zip(docs, placements, split, strict=True):
                self.profile_links[doc.id] = links
                if products is not None:
                    self.product_vectors[doc.id] = products
                else:
                    self.product_vectors.pop(doc.id, None)

    def remove_profiles(self, ids: Iterable[Hashable]) -> None:
        """Forget profiles (`write_chunk` at a time)."""
        ids = [i for i in dict.fromkeys(ids) if i in self.profiles]
        if self._in_chunks(self.remove_profiles, ids):
            return
        with self._lock:
            rows = self.profile_lexical.rows(ids)
            for key, row in zip(ids, rows.tolist(), strict=True):
                self._profile_postings.discard(row, _profile_postings(self.profiles[key]))
            self._profile_dense = self._drop_rows(
                self._profile_dense, self.profile_lexical, self.profile_vectors, ids
            )
            self.product_lexical.remove(
                (i, j) for i in ids for j in range(len(self.product_names.get(i, ())))
            )
            for key in ids:
                self.profiles.pop(key, None)
                self.profile_texts.pop(key, None)
                self.profile_links.pop(key, None)
                self.product_vectors.pop(key, None)
                self.product_names.pop(key, None)
                self._product_rows.pop(key, None)

    def upsert_demands(
        self, docs: Sequence[DemandDoc], vectors: np.ndarray | Sequence | None = None
    ) -> None:
        """Add or replace needs (vectors are query embeddings; `write_chunk` at a time)."""
        vectors = list(vectors) if vectors is not None else [None] * len(docs)
        if self._in_chunks(self.upsert_demands, docs, vectors):
            return
        texts = [demand_text(d) for d in docs]
        counts = self.demand_lexical.counts(texts)
        placements = self._placements_many(texts, vectors, counts, self.demand_lexical)
        ids = [d.id for d in docs]
        with self._lock:
            moved = _store_vectors(self.demand_vectors, ids, vectors)
            self.demand_lexical.upsert(ids, texts, counts)
            self._demand_dense = self._realign(
                self._demand_dense, self.demand_lexical, self.demand_vectors, [*ids, *moved]
            )
            self._demand_open_until = _aligned(
                self._demand_open_until, self.demand_lexical.row_count
            )
            self._demand_open_until[self.demand_lexical.rows(ids)] = [d.open_until() for d in docs]
            for doc, text, links in zip(docs, texts, placements, strict=True):
                self.demands[doc.id] = doc
                self.demand_texts[doc.id] = text
                self.demand_links[doc.id] = links

    def remove_demands(self, ids: Iterable[Hashable]) -> None:
        """Forget needs (`write_chunk` at a time)."""
        ids = [i for i in dict.fromkeys(ids) if i in self.demands]
        if self._in_chunks(self.remove_demands, ids):
            return
        with self._lock:
            self._demand_dense = self._drop_rows(
                self._demand_dense, self.demand_lexical, self.demand_vectors, ids
            )
            for key in ids:
                self.demands.pop(key, None)
                self.demand_texts.pop(key, None)
                self.demand_links.pop(key, None)

    # -- ranking -----------------------------------------------------------------------------

    def _first_stage(
        self,
        lexical: np.ndarray,
        alive: np.ndarray | None,
        vectors: VectorIndex,
        aligned: np.ndarray,
        query: np.ndarray | None,
    ) -> "_Stage":
        """Per-query normalised dense and lexical scores, one per lexical row."""
        n = lexical.size
        dense = np.zeros(n, dtype=np.float64)
        dense_raw = np.full(n, np.nan, dtype=np.float64)
        dense_stats = (0.0, 1.0)
        if query is not None and len(vectors):
            raw = vectors.scores(query).astype(np.float64)
            dense_stats = self._stats(raw)
            pos = aligned[:n]
            known = pos >= 0
            if len(vectors) == n:  # every row has a vector: one gather, no masks
                dense_raw = raw[pos]
                dense = (dense_raw - dense_stats[0]) / dense_stats[1]
            else:
                dense_raw[known] = raw[pos[known]]
                dense[known] = (dense_raw[known] - dense_stats[0]) / dense_stats[1]
        values = lexical.astype(np.float64)
        lex_stats = self._stats(values if alive is None else values[alive])
        lex = (values - lex_stats[0]) / lex_stats[1]
        return _Stage(alive, dense, dense_raw, dense_stats, lex, lex_stats, query is not None)

    def _shortlist(
        self, stage: "_Stage", eligible: np.ndarray | None, link: str | None
    ) -> list[int]:
        """Rows to score in full: the best by meaning, by wording, and the link's holders.

        Taking each signal's own top list (rather than one weighted sum) keeps recall whatever
        the fusion weights are.
        """
        share = max(self.candidates // 2, 1)
        picked: dict[int, None] = {}
        signals = [stage.lexical] + ([stage.dense] if stage.has_dense else [])
        for signal in signals:
            values = signal if eligible is None else np.where(eligible, signal, -np.inf)
            top = _top(values, share)
            top = top[np.argsort(-values[top], kind="stable")]
            picked.update(dict.fromkeys(top.tolist()))
        if link:
            holders = self._profile_postings.mask(("link", link), stage.lexical.size)
            if eligible is not None:
                holders &= eligible
            values = np.where(holders, stage.dense + stage.lexical, -np.inf)
            top = _top(values, share)
            picked.update(dict.fromkeys(top[np.argsort(-values[top], kind="stable")].tolist()))
        return list(picked)

    def _profile_pool(
        self, where: Callable[[ProfileDoc], bool] | None, alive: np.ndarray | None, n: int
    ) -> np.ndarray | None:
        """Rows that pass `where` (a ProfileFilter as masks; any other callable per profile).

        None when every row does (no filter and no removed profile).
        """
        if where is None:
            return alive
        alive = np.ones(n, dtype=bool) if alive is None else alive.copy()
        if isinstance(where, ProfileFilter):
            pool = alive
            for pair in where.terms():
                pool &= self._profile_postings.mask(pair, n)
            if where.ids is not None:
                rows = self.profile_lexical.rows(list(where.ids))
                chosen = np.zeros(n, dtype=bool)
                chosen[rows[(rows >= 0) & (rows < n)]] = True
                pool &= chosen
            return pool
        pool = np.zeros(n, dtype=bool)
        for row in np.flatnonzero(alive).tolist():
            pool[row] = bool(where(self.profiles[self.profile_lexical.key_at(row)]))
        return pool

    def _product_dense(
        self, keys: list[Hashable], rows: list[int], query: np.ndarray | None, stage: "_Stage"
    ) -> np.ndarray:
        """Each profile's best product by meaning, on the whole-profile dense scale.

        A profile without product rows (stored before products were encoded) counts its
        whole-profile cosine; one without any vector counts 0 (the corpus mean).
        """
        out = np.zeros(len(keys))
        if query is None:
            return out
        mean, spread = stage.dense_stats
        raw = stage.dense_raw[rows] if rows else np.zeros(0)
        has = [j for j, key in enumerate(keys) if key in self.product_vectors]
        if has:
            blocks = [self.product_vectors[keys[j]] for j in has]
            starts = np.cumsum([0, *(len(b) for b in blocks[:-1])])
            best = np.maximum.reduceat(np.concatenate(blocks) @ query.astype(np.float32), starts)
            raw = raw.copy()
            raw[has] = best
        known = ~np.isnan(raw)
        out[known] = (raw[known] - mean) / spread
        return out

    def _product_lexical(
        self, text: str, keys: list[Hashable], stage: "_Stage"
    ) -> dict[Hashable, float]:
        """The best product of each profile by wording, on the whole-profile lexical scale.

        Only the shortlist's product rows are scored (no pass over every product).
        """
        owned = [(key, self._product_rows[key]) for key in keys if key in self._product_rows]
        if not owned:
            return {}
        rows = np.concatenate([r for _, r in owned])
        values = self.product_lexical.gather_scores(text, rows)
        starts = np.cumsum([0, *(r.size for _, r in owned[:-1])])
        best = np.maximum.reduceat(values, starts)
        mean, spread = stage.lexical_stats
        return {key: (float(b) - mean) / spread for (key, _), b in zip(owned, best, strict=True)}

    def rank_profiles(
        self,
        demand: DemandDoc,
        demand_vector: np.ndarray | None,
        k: int = 50,
        where: Callable[[ProfileDoc], bool] | None = None,
        exclude_ineligible: bool = False,
    ) -> list[Match]:
        """The k best profiles for a need (`where`: a ProfileFilter is fastest)."""
        text = demand_text(demand)
        with self._lock:
            lexical = self.profile_lexical.row_scores(text)
            n = lexical.size
            alive = self.profile_lexical.alive()[:n] if self.profile_lexical.dead else None
            stage = self._first_stage(
                lexical, alive, self.profile_vectors, self._profile_dense, demand_vector
            )
            demand_links = frozenset()
            if demand.link is None:
                # A stored need was placed when written; only free-text queries are placed here.
                stored = self.demand_texts.get(demand.id) == text and demand.id in self.demand_links
                demand_links = (
                    self.demand_links[demand.id]
                    if stored
                    else self._placements(text, demand_vector)
                )
            eligible = self._profile_pool(where, alive, n)
            w = self.weights
            shortlist = self._shortlist(stage, eligible, demand.link)
            keys = [self.profile_lexical.key_at(row) for row in shortlist]
            product_lex = self._product_lexical(text, keys, stage)
            product_dense = self._product_dense(keys, shortlist, demand_vector, stage)
            terms = prepare_terms(key_terms(demand.keywords, demand.title))
            scored = []
            for j, (at, i) in enumerate(zip(shortlist, keys, strict=True)):
                profile = self.profiles[i]
                f = pair_features(
                    demand,
                    profile,
                    self.profile_texts[i],
                    terms,
                    float(stage.dense[at]),
                    float(stage.lexical[at]),
                    demand_links,
                    self.profile_links.get(i, frozenset()),
                    dense_product=float(product_dense[j]),
                    lexical_product=product_lex.get(i, float(stage.lexical[at])),
                )
                if exclude_ineligible and f.must_missing:
                    continue
                scored.append((fuse(f, w), i, f))
        return self._matches(
            scored, k, lambda i, f: reasons(f, demand, self.profiles[i], self.link_names)
        )

    def _demand_pool(self, where: Callable[[DemandDoc], bool] | None, n: int) -> np.ndarray:
        """Need rows that pass `where` (a DemandFilter as a mask; any other callable per need)."""
        alive = self.demand_lexical.alive()[:n]
        if where is None:
            return alive
        if isinstance(where, DemandFilter):
            if where.open_on is None:
                return alive
            return alive & (self._demand_open_until[:n] >= where.open_on.toordinal())
        pool = np.zeros(n, dtype=bool)
        for row in np.flatnonzero(alive).tolist():
            pool[row] = bool(where(self.demands[self.demand_lexical.key_at(row)]))
        return pool

    def _demand_shortlist(self, signals: list[np.ndarray], pool: np.ndarray) -> np.ndarray:
        """Need rows to score in full: all of the pool when small, else each signal's best."""
        if int(pool.sum()) <= self.exact_demands:
            return np.flatnonzero(pool)
        share = max(self.candidates // 2, 1)
        picked = [_top(np.where(pool, signal, -np.inf), share) for signal in signals]
        return np.unique(np.concatenate(picked))

    def rank_demands(
        self,
        profile: ProfileDoc,
        profile_vector: np.ndarray | None,
        k: int = 50,
        where: Callable[[DemandDoc], bool] | None = None,
    ) -> list[Match]:
        """The k best needs for a profile (`where`: a DemandFilter is fastest).

        `profile_vector` is the profile vector or the rows of `profile_passages(profile)`.
        Up to `exact_demands` needs every one is scored in full; above, the best of each signal.
        """
        text = profile_text(profile)
        names = product_texts(profile)
        whole, products = self._split_vectors(names, profile_vector)
        if products is None and whole is not None and profile.id in self.product_vectors:
            products = self.product_vectors[profile.id]
        with self._lock:
            lexical = self.demand_lexical.row_scores(text)
            n = lexical.size
            alive = self.demand_lexical.alive()[:n] if self.demand_lexical.dead else None
            stage = self._first_stage(
                lexical, alive, self.demand_vectors, self._demand_dense, whole
            )
            stored = self.profile_texts.get(profile.id) == text and profile.id in self.profile_links
            profile_links = profile.links or (
                self.profile_links[profile.id] if stored else self._placements(text, whole)
            )
            product_dense = np.zeros(n)
            if whole is not None and len(self.demand_vectors):
                rows = products if products is not None and len(products) else whole[None, :]
                best = (self.demand_vectors.matrix @ rows.T).max(axis=1).astype(np.float64)
                pos = self._demand_dense[:n]
                known = pos >= 0
                mean, spread = stage.dense_stats
                product_dense[known] = (best[pos[known]] - mean) / spread
            product_lex = stage.lexical.copy()
            if names and n:
                per_product = self.demand_lexical.row_scores_many(names)
                mean, spread = stage.lexical_stats
                product_lex = (per_product.max(axis=0).astype(np.float64) - mean) / spread
            pool = self._demand_pool(where, n)
            signals = [stage.lexical, product_lex] + (
                [stage.dense, product_dense] if stage.has_dense else []
            )
            scored = []
            for at in self._demand_shortlist(signals, pool).tolist():
                i = self.demand_lexical.key_at(at)
                demand = self.demands[i]
                f = pair_features(
                    demand,
                    profile,
                    text,
                    prepare_terms(key_terms(demand.keywords, demand.title)),
                    float(stage.dense[at]),
                    float(stage.lexical[at]),
                    self.demand_links.get(i, frozenset()),
                    profile_links,
                    dense_product=float(product_dense[at]),
                    lexical_product=float(product_lex[at]),
                )
                scored.append((fuse(f, self.weights), i, f))
        return self._matches(
            scored, k, lambda i, f: reasons(f, self.demands[i], profile, self.link_names)
        )

    def _matches(self, scored, k: int, explain) -> list[Match]:
        scored.sort(key=lambda t: (-t[0], str(t[1])))
        return [
            Match(
                id=i,
                score=round(s, 4),
                rank=rank,
                components=f.components(self.weights),
                reasons=explain(i, f),
                features=f,
            )
            for rank, (s, i, f) in enumerate(scored[:k], start=1)
        ]


@dataclass
class _Stage:
    """First-stage scores of one query, one per lexical row."""

    alive: np.ndarray | None
    dense: np.ndarray
    dense_raw: np.ndarray
    dense_stats: tuple[float, float]
    lexical: np.ndarray
    lexical_stats: tuple[float, float]
    has_dense: bool
