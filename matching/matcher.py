"""The hybrid matcher: dense + lexical + structured signals fused into one explained score.

Both directions use the same pair features, so a pair scores alike whichever side asks.
"""

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.documents import NeedDoc, ProfileDoc, need_text, profile_text
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


def _zscore(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    std = float(values.std())
    return (values - float(values.mean())) / (std if std > 1e-6 else 1.0)


def _relative(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else values


class Matcher:
    """Holds profiles and needs with their vectors; ranks either side for the other."""

    def __init__(
        self,
        dim: int,
        weights: FusionWeights | None = None,
        candidates: int = 200,
        placer: LinkPlacer | None = None,
        link_names: dict[str, str] | None = None,
    ) -> None:
        self.dim = dim
        self.weights = weights or FusionWeights()
        self.candidates = candidates
        self.placer = placer
        self.link_names = link_names or {}
        self._lock = threading.RLock()
        self.profiles: dict[Hashable, ProfileDoc] = {}
        self.profile_texts: dict[Hashable, str] = {}
        self.profile_links: dict[Hashable, frozenset[str]] = {}
        self.profile_vectors = VectorIndex(dim)
        self.profile_lexical = LexicalIndex()
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

    def upsert_profiles(
        self, docs: Sequence[ProfileDoc], vectors: np.ndarray | Sequence | None = None
    ) -> None:
        """Add or replace profiles; a None vector means 'not encoded yet' (lexical only)."""
        vectors = list(vectors) if vectors is not None else [None] * len(docs)
        texts = [profile_text(d) for d in docs]
        with self._lock:
            with_vec = [(d.id, v) for d, v in zip(docs, vectors, strict=True) if v is not None]
            without = [d.id for d, v in zip(docs, vectors, strict=True) if v is None]
            if with_vec:
                self.profile_vectors.upsert(
                    [k for k, _ in with_vec], np.stack([v for _, v in with_vec])
                )
            self.profile_vectors.remove(without)
            self.profile_lexical.upsert([d.id for d in docs], texts)
            placements = self._placements_many(texts, vectors)
            for doc, text, links in zip(docs, texts, placements, strict=True):
                self.profiles[doc.id] = doc
                self.profile_texts[doc.id] = text
                self.profile_links[doc.id] = links

    def remove_profiles(self, ids: Iterable[Hashable]) -> None:
        """Forget profiles."""
        ids = list(ids)
        with self._lock:
            self.profile_vectors.remove(ids)
            self.profile_lexical.remove(ids)
            for key in ids:
                self.profiles.pop(key, None)
                self.profile_texts.pop(key, None)
                self.profile_links.pop(key, None)

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
    ) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
        """Per-query normalised dense and lexical scores, keyed by id."""
        dense: dict[Hashable, float] = {}
        if query is not None and len(vectors):
            raw = vectors.scores(query)
            dense = dict(zip(vectors.ids, _zscore(raw).tolist(), strict=True))
        lex = dict(zip(ids, _relative(lexical).tolist(), strict=True))
        return dense, lex

    def _shortlist(
        self,
        pool: list[Hashable],
        dense: dict[Hashable, float],
        lex: dict[Hashable, float],
        link: str | None,
    ) -> list[Hashable]:
        """Candidates for full scoring: the best by meaning, by wording, and the link's holders.

        Taking each signal's own top list (rather than one weighted sum) keeps recall whatever
        the fusion weights are.
        """
        share = max(self.candidates // 2, 1)
        picked: dict[Hashable, None] = {}
        for signal in (dense, lex):
            if signal:
                best = sorted(pool, key=lambda i, sig=signal: sig.get(i, -1e9), reverse=True)
                picked.update(dict.fromkeys(best[:share]))
        if link:
            holders = [i for i in pool if link in self.profiles[i].links]
            holders.sort(key=lambda i: dense.get(i, 0.0) + lex.get(i, 0.0), reverse=True)
            picked.update(dict.fromkeys(holders[:share]))
        return list(picked)

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
            dense, lex = self._first_stage(ids, lexical, self.profile_vectors, need_vector)
            need_links = self._placements(text, need_vector) if need.link is None else frozenset()
            pool = [i for i in ids if where is None or where(self.profiles[i])]
            w = self.weights
            shortlist = self._shortlist(pool, dense, lex, need.link)
            terms = prepare_terms(key_terms(need.keywords, need.title))
            scored = []
            for i in shortlist:
                profile = self.profiles[i]
                f = pair_features(
                    need,
                    profile,
                    self.profile_texts[i],
                    terms,
                    dense.get(i, 0.0),
                    lex.get(i, 0.0),
                    need_links,
                    self.profile_links.get(i, frozenset()),
                )
                if exclude_ineligible and f.must_missing:
                    continue
                scored.append((fuse(f, w), i, f))
        return self._matches(
            scored, k, lambda i, f: reasons(f, need, self.profiles[i], self.link_names)
        )

    def rank_needs(
        self,
        profile: ProfileDoc,
        profile_vector: np.ndarray | None,
        k: int = 50,
        where: Callable[[NeedDoc], bool] | None = None,
    ) -> list[Match]:
        """The k best needs for a profile."""
        text = profile_text(profile)
        with self._lock:
            ids, lexical = self.need_lexical.scores(text)
            dense, lex = self._first_stage(ids, lexical, self.need_vectors, profile_vector)
            profile_links = profile.links or self._placements(text, profile_vector)
            scored = []
            for i in ids:
                need = self.needs[i]
                if where is not None and not where(need):
                    continue
                f = pair_features(
                    need,
                    profile,
                    text,
                    prepare_terms(key_terms(need.keywords, need.title)),
                    dense.get(i, 0.0),
                    lex.get(i, 0.0),
                    self.need_links.get(i, frozenset()),
                    profile_links,
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
