"""Chain placement: which links of the taxonomy a profile or a need belongs to."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.documents import LinkDoc, link_text
from matching.lexical import LexicalIndex


@dataclass(frozen=True)
class Placement:
    """A suggested link with its score and the link keywords found in the text."""

    code: str
    chain: str
    name: str
    score: float
    matched_keywords: tuple[str, ...]


class LinkPlacer:
    """Scores texts against every link: meaning (dense), wording (TF-IDF) and keyword hits."""

    def __init__(self, dense: float = 1.5, lexical: float = 1.0, keywords: float = 1.0) -> None:
        self.dense = dense
        self.lexical = lexical
        self.keywords = keywords

    def fit(self, links: Sequence[LinkDoc], vectors: np.ndarray | None) -> "LinkPlacer":
        """Learn the links; `vectors` are their passage embeddings (None: no dense signal)."""
        self.links_ = list(links)
        self.vectors_ = None if vectors is None else np.asarray(vectors, dtype=np.float32)
        self.lexical_ = LexicalIndex(n_features=2**18).fit(
            list(range(len(self.links_))), [link_text(x) for x in self.links_]
        )
        owners: dict[str, set[int]] = {}
        for i, link in enumerate(self.links_):
            for kw in (*link.keywords, link.name):
                if len(kw) >= 2:
                    owners.setdefault(kw.lower(), set()).add(i)
        self.keyword_owners_ = owners
        # Longest first, so 谐波减速器 is found whole rather than as 减速器.
        alternatives = sorted(owners, key=len, reverse=True)
        # Keywords by their first two characters (all have two or more), longest first.
        self.by_prefix_: dict[str, list[str]] = {}
        for word in alternatives:
            self.by_prefix_.setdefault(word[:2], []).append(word)
        return self

    def _keywords_in(self, text: str) -> set[str]:
        """Keywords found scanning left to right, longest first, without overlaps.

        The same matches as one regex alternation of the keywords, longest first, would find,
        at a fraction of its cost: only positions whose two characters start a keyword are
        tried.
        """
        by_prefix = self.by_prefix_
        found: set[str] = set()
        # Only positions whose two characters start a keyword can match: jump between them.
        starts = [i for i in range(len(text) - 1) if text[i : i + 2] in by_prefix]
        resume = 0
        for i in starts:
            if i < resume:
                continue  # inside the keyword found last (matches never overlap)
            for word in by_prefix[text[i : i + 2]]:
                if text.startswith(word, i):
                    found.add(word)
                    resume = i + len(word)
                    break
        return found

    def _keyword_hits(self, text: str) -> tuple[np.ndarray, dict[int, list[str]]]:
        hits = np.zeros(len(self.links_), dtype=np.float32)
        found: dict[int, list[str]] = {}
        for word in self._keywords_in(text.lower()):
            for i in self.keyword_owners_[word]:
                found.setdefault(i, []).append(word)
        for i, words in found.items():
            hits[i] = min(len(words), 3)
        return hits, found

    def scores_many(
        self,
        texts: Sequence[str],
        vectors: np.ndarray | None,
        keyword_hits: list[tuple[np.ndarray, dict[int, list[str]]]] | None = None,
        counts: sp.csr_matrix | None = None,
    ) -> np.ndarray:
        """A score for every (text, link) pair; rows follow `texts`, columns the links."""
        n = len(texts)
        total = np.zeros((n, len(self.links_)), dtype=np.float32)
        if n == 0:
            return total
        if vectors is not None and self.vectors_ is not None:
            dense = np.asarray(vectors, dtype=np.float32).reshape(n, -1) @ self.vectors_.T
            std = dense.std(axis=1, keepdims=True)
            std[std < 1e-6] = 1.0
            total += self.dense * (dense - dense.mean(axis=1, keepdims=True)) / std
        _, lex = self.lexical_.scores_many(texts, counts)
        top = lex.max(axis=1, keepdims=True)
        top[top <= 0] = 1.0
        total += self.lexical * 3.0 * lex / top
        hits = [h for h, _ in (keyword_hits or map(self._keyword_hits, texts))]
        total += self.keywords * np.stack(hits)
        return total

    def place_many(
        self,
        texts: Sequence[str],
        vectors: np.ndarray | None,
        k: int = 3,
        counts: sp.csr_matrix | None = None,
    ) -> list[list[Placement]]:
        """The k best links for each text, best first.

        `counts`: the texts' n-gram counts from a lexical index of the same n-grams (folded
        into the placer's features), to spare a second pass over the texts.
        """
        keyword_hits = [self._keyword_hits(text) for text in texts]
        if counts is not None:
            counts = self.lexical_.fold(counts)
        scores = self.scores_many(texts, vectors, keyword_hits, counts)
        out = []
        for row, ((_, found), best) in enumerate(
            zip(keyword_hits, _top_rows(scores, k), strict=True)
        ):
            placements = []
            for i in best:
                link = self.links_[i]
                placements.append(
                    Placement(
                        code=link.code,
                        chain=link.chain,
                        name=link.name,
                        score=round(float(scores[row, i]), 4),
                        matched_keywords=tuple(found.get(int(i), [])),
                    )
                )
            out.append(placements)
        return out

    def codes_many(
        self,
        texts: Sequence[str],
        vectors: np.ndarray | None,
        k: int = 3,
        counts: sp.csr_matrix | None = None,
    ) -> list[frozenset[str]]:
        """The codes of each text's k best links (`place_many` without the details)."""
        if counts is not None:
            counts = self.lexical_.fold(counts)
        scores = self.scores_many(texts, vectors, None, counts)
        codes = [link.code for link in self.links_]
        return [frozenset(codes[i] for i in best) for best in _top_rows(scores, k).tolist()]

    def place(self, text: str, vector: np.ndarray | None, k: int = 3) -> list[Placement]:
        """The k best links for one text."""
        vectors = None if vector is None else np.asarray(vector)[None, :]
        return self.place_many([text], vectors, k)[0]


def _top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the k largest scores, largest first (`top_k` of each row)."""
    if scores.shape[0] == 0 or k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    negated = -scores
    if k >= scores.shape[1]:
        return np.argsort(negated, axis=1, kind="stable")
    part = np.argpartition(negated, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(negated, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
