"""The hybrid matcher: dense + lexical + structured signals fused into one explained score.

Both directions use the same pair features, so a pair scores alike whichever side asks.
"""

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.documents import NeedDoc, ProfileDoc, need_text, product_texts, profile_text
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
    """Hard filters an organizer sets on a profile ranking."""

    chain: str | None = None
    city: str | None = None
    tier: str | None = None
    certification: str | None = None

    def __call__(self, p: ProfileDoc) -> bool:
        return (
            (self.chain is None or self.chain in p.chains)
            and (self.city is None or p.city == self.city)
            and (self.tier is None or p.tier == self.tier)
            and (self.certification is None or self.certification in p.certifications)
        )

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.chain, self.city, self.tier, self.certification))


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


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest finite values."""
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
    ) -> None:
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {normalisation!r}")
        self.dim = dim
        self.weights = weights or FusionWeights()
        self.candidates = candidates
        self.placer = placer
        self.link_names = link_names or {}
        self.normalisation = normalisation
        self._stats = NORMALISATIONS[normalisation]
        self._lock = threading.RLock()
        self.profiles: dict[Hashable, ProfileDoc] = {}
        self.profile_texts: dict[Hashable, str] = {}
        self.profile_links: dict[Hashable, frozenset[str]] = {}
        self.profile_vectors = VectorIndex(dim)
        self.profile_lexical = LexicalIndex()
        # Per profile: one row per product (rows follow `product_texts`), when encoded.
        self.product_vectors: dict[Hashable, np.ndarray] = {}
        self.product_names: dict[Hashable, list[str]] = {}
        self.product_lexical = LexicalIndex(n_features=2**19)
        # Row spans of each profile's products in product_lexical, per rebuild of it.
        self._rows_of: dict[Hashable, tuple[int, int]] = {}
        self._rows_generation = -1
        self.needs: dict[Hashable, NeedDoc] = {}
        self.need_texts: dict[Hashable, str] = {}
        self.need_links: dict[Hashable, frozenset[str]] = {}
        self.need_vectors = VectorIndex(dim)
        self.need_lexical = LexicalIndex()

    # -- maintenance -------------------------------------------------------------------------

    def _placements(self, text: str, vector: np.ndarray | None) -> frozenset[str]:
        return self._placements_many([text], [vector])[0]

    def _placements_many(self, texts: list[str], vectors: list) -> list[frozenset[str]]:
        """Top-3 suggested links of each text (batched: one pass with, one without vectors)."""
        out: list[frozenset[str]] = [frozenset()] * len(texts)
        if self.placer is None or not texts:
            return out
        with_vec = [i for i, v in enumerate(vectors) if v is not None]
        without = [i for i, v in enumerate(vectors) if v is None]
        for rows, stacked in (
            (with_vec, np.stack([vectors[i] for i in with_vec]) if with_vec else None),
            (without, None),
        ):
            if not rows:
                continue
            placed = self.placer.place_many([texts[i] for i in rows], stacked, k=3)
            for i, places in zip(rows, placed, strict=True):
                out[i] = frozenset(p.code for p in places)
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
            ids = list(self.needs)
            links = self._placements_many(
                [self.need_texts[i] for i in ids], [self.need_vectors.vector(i) for i in ids]
            )
            self.need_links = dict(zip(ids, links, strict=True))

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

    def upsert_profiles(
        self, docs: Sequence[ProfileDoc], vectors: np.ndarray | Sequence | None = None
    ) -> None:
        """Add or replace profiles.

        Each vector is None ('not encoded yet': wording only), the profile vector, or the
        rows of `profile_passages(doc)` (profile, then each product).
        """
        vectors = list(vectors) if vectors is not None else [None] * len(docs)
        texts = [profile_text(d) for d in docs]
        names = [product_texts(d) for d in docs]
        split = [self._split_vectors(n, v) for n, v in zip(names, vectors, strict=True)]
        whole = [w for w, _ in split]
        with self._lock:
            with_vec = [(d.id, w) for d, w in zip(docs, whole, strict=True) if w is not None]
            without = [d.id for d, w in zip(docs, whole, strict=True) if w is None]
            if with_vec:
                self.profile_vectors.upsert(
                    [k for k, _ in with_vec], np.stack([v for _, v in with_vec])
                )
            self.profile_vectors.remove(without)
            self.profile_lexical.upsert([d.id for d in docs], texts)
            self.product_lexical.remove(
                (d.id, j) for d in docs for j in range(len(self.product_names.get(d.id, ())))
            )
            keys = [(d.id, j) for d, n in zip(docs, names, strict=True) for j in range(len(n))]
            self.product_lexical.upsert(keys, [x for n in names for x in n])
            placements = self._placements_many(texts, whole)
            for doc, text, links, own, (_, products) in zip(
                docs, texts, placements, names, split, strict=True
            ):
                self.profiles[doc.id] = doc
                self.profile_texts[doc.id] = text
                self.profile_links[doc.id] = links
                self.product_names[doc.id] = own
                if products is not None:
                    self.product_vectors[doc.id] = products
                else:
                    self.product_vectors.pop(doc.id, None)

    def remove_profiles(self, ids: Iterable[Hashable]) -> None:
        """Forget profiles."""
        ids = list(ids)
        with self._lock:
            self.profile_vectors.remove(ids)
            self.profile_lexical.remove(ids)
            self.product_lexical.remove(
                (i, j) for i in ids for j in range(len(self.product_names.get(i, ())))
            )
            for key in ids:
                self.profiles.pop(key, None)
                self.profile_texts.pop(key, None)
                self.profile_links.pop(key, None)
                self.product_vectors.pop(key, None)
                self.product_names.pop(key, None)

    def upsert_needs(
        self, docs: Sequence[NeedDoc], vectors: np.ndarray | Sequence | None = None
    ) -> None:
        """Add or replace needs (vectors are query embeddings)."""
        vectors = list(vectors) if vectors is not None else [None] * len(docs)
        texts = [need_text(d) for d in docs]
        with self._lock:
            with_vec = [(d.id, v) for d, v in zip(docs, vectors, strict=True) if v is not None]
            without = [d.id for d, v in zip(docs, vectors, strict=True) if v is None]
            if with_vec:
                self.need_vectors.upsert(
                    [k for k, _ in with_vec], np.stack([v for _, v in with_vec])
                )
            self.need_vectors.remove(without)
            self.need_lexical.upsert([d.id for d in docs], texts)
            placements = self._placements_many(texts, vectors)
            for doc, text, links in zip(docs, texts, placements, strict=True):
                self.needs[doc.id] = doc
                self.need_texts[doc.id] = text
                self.need_links[doc.id] = links

    def remove_needs(self, ids: Iterable[Hashable]) -> None:
        """Forget needs."""
        ids = list(ids)
        with self._lock:
            self.need_vectors.remove(ids)
            self.need_lexical.remove(ids)
            for key in ids:
                self.needs.pop(key, None)
                self.need_texts.pop(key, None)
                self.need_links.pop(key, None)

    # -- ranking -----------------------------------------------------------------------------

    def _first_stage(
        self,
        ids: list[Hashable],
        lexical: np.ndarray,
        vectors: VectorIndex,
        query: np.ndarray | None,
    ) -> "_Stage":
        """Per-query normalised dense and lexical scores, aligned with `ids`."""
        n = len(ids)
        dense = np.zeros(n, dtype=np.float64)
        dense_raw = np.full(n, np.nan, dtype=np.float64)
        dense_stats = (0.0, 1.0)
        if query is not None and len(vectors):
            raw = vectors.scores(query).astype(np.float64)
            dense_stats = self._stats(raw)
            pos = vectors.positions(ids)
            known = pos >= 0
            dense_raw[known] = raw[pos[known]]
            dense[known] = (dense_raw[known] - dense_stats[0]) / dense_stats[1]
        lex_stats = self._stats(lexical.astype(np.float64))
        lex = (lexical.astype(np.float64) - lex_stats[0]) / lex_stats[1]
        return _Stage(ids, dense, dense_raw, dense_stats, lex, lex_stats, query is not None)

    def _shortlist(self, stage: "_Stage", pool: np.ndarray | None, link: str | None) -> list[int]:
        """Positions to score in full: the best by meaning, by wording, and the link's holders.

        Taking each signal's own top list (rather than one weighted sum) keeps recall whatever
        the fusion weights are.
        """
        share = max(self.candidates // 2, 1)
        picked: dict[int, None] = {}
        signals = [stage.lexical] + ([stage.dense] if stage.has_dense else [])
        for signal in signals:
            values = signal if pool is None else np.where(pool, signal, -np.inf)
            top = _top(values, share)
            top = top[np.argsort(-values[top], kind="stable")]
            picked.update(dict.fromkeys(top.tolist()))
        if link:
            holders = np.array([link in self.profiles[i].links for i in stage.ids], dtype=bool)
            if pool is not None:
                holders &= pool
            values = np.where(holders, stage.dense + stage.lexical, -np.inf)
            top = _top(values, share)
            picked.update(dict.fromkeys(top[np.argsort(-values[top], kind="stable")].tolist()))
        return list(picked)

    def _product_dense(
        self, keys: list[Hashable], positions: list[int], query: np.ndarray | None, stage: "_Stage"
    ) -> np.ndarray:
        """Each profile's best product by meaning, on the whole-profile dense scale.

        A profile without product rows (stored before products were encoded) counts its
        whole-profile cosine; one without any vector counts 0 (the corpus mean).
        """
        out = np.zeros(len(keys))
        if query is None:
            return out
        mean, spread = stage.dense_stats
        raw = stage.dense_raw[positions] if positions else np.zeros(0)
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

    def _product_rows(self) -> dict[Hashable, tuple[int, int]]:
        """Row span of each profile's products in the product index (cached per rebuild)."""
        generation, keys = self.product_lexical.row_keys()
        if self._rows_generation != generation:
            spans: dict[Hashable, tuple[int, int]] = {}
            for row, (owner, _) in enumerate(keys):
                start, _end = spans.get(owner, (row, row))
                spans[owner] = (start, row + 1)
            self._rows_of, self._rows_generation = spans, generation
        return self._rows_of

    def rank_profiles(
        self,
        need: NeedDoc,
        need_vector: np.ndarray | None,
        k: int = 50,
        where: Callable[[ProfileDoc], bool] | None = None,
        exclude_ineligible: bool = False,
    ) -> list[Match]:
        """The k best profiles for a need."""
        text = need_text(need)
        with self._lock:
            ids, lexical = self.profile_lexical.scores(text)
            stage = self._first_stage(ids, lexical, self.profile_vectors, need_vector)
            need_links = frozenset()
            if need.link is None:
                # A stored need was placed when written; only free-text queries are placed here.
                stored = self.need_texts.get(need.id) == text and need.id in self.need_links
                need_links = (
                    self.need_links[need.id] if stored else self._placements(text, need_vector)
                )
            pool = (
                None
                if where is None
                else np.fromiter((where(self.profiles[i]) for i in ids), dtype=bool, count=len(ids))
            )
            w = self.weights
            shortlist = self._shortlist(stage, pool, need.link)
            keys = [ids[at] for at in shortlist]
            product_lex = self._product_lexical(text, keys, stage)
            product_dense = self._product_dense(keys, shortlist, need_vector, stage)
            terms = prepare_terms(key_terms(need.keywords, need.title))
            scored = []
            for j, at in enumerate(shortlist):
                i = ids[at]
                profile = self.profiles[i]
                f = pair_features(
                    need,
                    profile,
                    self.profile_texts[i],
                    terms,
                    float(stage.dense[at]),
                    float(stage.lexical[at]),
                    need_links,
                    self.profile_links.get(i, frozenset()),
                    dense_product=float(product_dense[j]),
                    lexical_product=product_lex.get(i, float(stage.lexical[at])),
                )
                if exclude_ineligible and f.must_missing:
                    continue
                scored.append((fuse(f, w), i, f))
        return self._matches(
            scored, k, lambda i, f: reasons(f, need, self.profiles[i], self.link_names)
        )

    def _product_lexical(
        self, text: str, keys: list[Hashable], stage: "_Stage"
    ) -> dict[Hashable, float]:
        """The best product of each profile by wording, on the whole-profile lexical scale.

        Products of one profile are written together, so they sit in one span of rows.
        """
        if not keys or not len(self.product_lexical):
            return {}
        values = self.product_lexical.values(text)
        spans = self._product_rows()
        mean, spread = stage.lexical_stats
        out = {}
        for key in keys:
            span = spans.get(key)
            if span is not None:
                out[key] = (float(values[span[0] : span[1]].max()) - mean) / spread
        return out

    def rank_needs(
        self,
        profile: ProfileDoc,
        profile_vector: np.ndarray | None,
        k: int = 50,
        where: Callable[[NeedDoc], bool] | None = None,
    ) -> list[Match]:
        """The k best needs for a profile.

        `profile_vector` is the profile vector or the rows of `profile_passages(profile)`.
        """
        text = profile_text(profile)
        names = product_texts(profile)
        whole, products = self._split_vectors(names, profile_vector)
        if products is None and whole is not None and profile.id in self.product_vectors:
            products = self.product_vectors[profile.id]
        with self._lock:
            ids, lexical = self.need_lexical.scores(text)
            stage = self._first_stage(ids, lexical, self.need_vectors, whole)
            stored = self.profile_texts.get(profile.id) == text and profile.id in self.profile_links
            profile_links = profile.links or (
                self.profile_links[profile.id] if stored else self._placements(text, whole)
            )
            product_dense = np.zeros(len(ids))
            if whole is not None and len(self.need_vectors):
                rows = products if products is not None and len(products) else whole[None, :]
                best = (self.need_vectors.matrix @ rows.T).max(axis=1).astype(np.float64)
                pos = self.need_vectors.positions(ids)
                known = pos >= 0
                mean, spread = stage.dense_stats
                product_dense[known] = (best[pos[known]] - mean) / spread
            product_lex = stage.lexical.copy()
            if names and ids:
                _, per_product = self.need_lexical.scores_many(names)
                mean, spread = stage.lexical_stats
                product_lex = (per_product.max(axis=0).astype(np.float64) - mean) / spread
            scored = []
            for at, i in enumerate(ids):
                need = self.needs[i]
                if where is not None and not where(need):
                    continue
                f = pair_features(
                    need,
                    profile,
                    text,
                    prepare_terms(key_terms(need.keywords, need.title)),
                    float(stage.dense[at]),
                    float(stage.lexical[at]),
                    self.need_links.get(i, frozenset()),
                    profile_links,
                    dense_product=float(product_dense[at]),
                    lexical_product=float(product_lex[at]),
                )
                scored.append((fuse(f, self.weights), i, f))
        return self._matches(
            scored, k, lambda i, f: reasons(f, self.needs[i], profile, self.link_names)
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
    """First-stage scores of one query, aligned with `ids`."""

    ids: list[Hashable]
    dense: np.ndarray
    dense_raw: np.ndarray
    dense_stats: tuple[float, float]
    lexical: np.ndarray
    lexical_stats: tuple[float, float]
    has_dense: bool
