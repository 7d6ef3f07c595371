"""Evaluation of the matcher on the labelled set in data/eval (no database needed).

Rows are validated with the API's own schemas, so the evaluation sees exactly the normalised
values the service would store.
"""

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.schemas.demand import DemandCreate
from app.schemas.sme import SmeCreate
from app.services.match_docs import need_doc_from_input, profile_doc_from_input
from matching.cache import EmbeddingCache
from matching.documents import LinkDoc, NeedDoc, ProfileDoc, link_text, need_text, profile_text
from matching.encoders import Encoder
from matching.evaluation import Scores, evaluate
from matching.features import FusionWeights
from matching.index import VectorIndex
from matching.lexical import LexicalIndex
from matching.matcher import Matcher
from matching.placement import LinkPlacer
from matching.tuning import QueryFeatures

_NEED_EXTRA = ("id", "split", "leader", "leader_city", "tags")


@dataclass
class EvalSet:
    """Profiles, needs and graded judgments."""

    profiles: list[ProfileDoc]
    needs: list[NeedDoc]
    qrels: dict[Hashable, dict[Hashable, int]]
    split: dict[Hashable, str] = field(default_factory=dict)
    tags: dict[Hashable, list[str]] = field(default_factory=dict)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_eval_set(directory: Path, link_chain: dict[str, str]) -> EvalSet:
    """Read and validate data/eval (smes.jsonl, needs.jsonl, qrels.jsonl)."""
    profiles = []
    for row in _jsonl(directory / "smes.jsonl"):
        doc_id = row.pop("id")
        profiles.append(profile_doc_from_input(SmeCreate.model_validate(row), doc_id))
    needs, split, tags = [], {}, {}
    for row in _jsonl(directory / "needs.jsonl"):
        extra = {k: row.pop(k, None) for k in _NEED_EXTRA}
        if row.get("link") and not row.get("chain"):
            row["chain"] = link_chain.get(row["link"])
        data = DemandCreate.model_validate({**row, "leader_id": 1})
        need_id = extra["id"]
        needs.append(need_doc_from_input(data, need_id, extra["leader"], extra["leader_city"]))
        split[need_id] = extra["split"] or "test"
        tags[need_id] = list(extra["tags"] or [])
    qrels: dict[Hashable, dict[Hashable, int]] = {}
    for row in _jsonl(directory / "qrels.jsonl"):
        qrels.setdefault(row["need"], {})[row["sme"]] = int(row["grade"])
    return EvalSet(profiles, needs, qrels, split, tags)


@dataclass
class Encoded:
    """The eval set's vectors."""

    profiles: np.ndarray
    needs: np.ndarray
    links: np.ndarray


def encode_eval_set(
    data: EvalSet,
    links: list[LinkDoc],
    encoder: Encoder,
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> Encoded:
    """Vectors for profiles (passages), needs (queries) and links (passages), cached on disk."""
    passages = EmbeddingCache(cache_dir, encoder.name, "passage")
    queries = EmbeddingCache(cache_dir, encoder.name, "query")
    return Encoded(
        profiles=passages.encode(
            [profile_text(p) for p in data.profiles], encoder.encode_passages, progress=progress
        ),
        needs=queries.encode(
            [need_text(n) for n in data.needs], encoder.encode_queries, progress=progress
        ),
        links=passages.encode(
            [link_text(x) for x in links], encoder.encode_passages, progress=progress
        ),
    )


def build_matcher(
    data: EvalSet,
    vectors: Encoded,
    links: list[LinkDoc],
    weights: FusionWeights,
    candidates: int = 300,
) -> Matcher:
    """A matcher holding the eval profiles and the taxonomy's links."""
    placer = LinkPlacer().fit(links, vectors.links)
    matcher = Matcher(
        dim=vectors.profiles.shape[1],
        weights=weights,
        candidates=candidates,
        placer=placer,
        link_names={x.code: x.name for x in links},
    )
    matcher.upsert_profiles(data.profiles, vectors.profiles)
    return matcher


def rankings(
    data: EvalSet, vectors: Encoded, matcher: Matcher, k: int = 100
) -> dict[str, dict[Hashable, list[Hashable]]]:
    """Rankings of every need by TF-IDF alone, dense alone and the full matcher."""
    lexical = LexicalIndex().fit(
        [p.id for p in data.profiles], [profile_text(p) for p in data.profiles]
    )
    dense = VectorIndex(vectors.profiles.shape[1])
    dense.upsert([p.id for p in data.profiles], vectors.profiles)
    out: dict[str, dict[Hashable, list[Hashable]]] = {"tfidf": {}, "dense": {}, "full": {}}
    for need, qv in zip(data.needs, vectors.needs, strict=True):
        ids, scores = lexical.scores(need_text(need))
        order = np.argsort(-scores, kind="stable")[:k]
        out["tfidf"][need.id] = [ids[i] for i in order]
        out["dense"][need.id] = dense.search(qv, k)[0]
        out["full"][need.id] = [m.id for m in matcher.rank_profiles(need, qv, k=k)]
    return out


def report(
    data: EvalSet, ranked: dict[str, dict[Hashable, list[Hashable]]], split: str | None
) -> dict[str, Scores]:
    """Metrics per system, on one split (None: all needs)."""
    keep = {n.id for n in data.needs if split is None or data.split.get(n.id) == split}
    return {
        system: evaluate({q: r for q, r in runs.items() if q in keep}, data.qrels)
        for system, runs in ranked.items()
    }


def links_from_taxonomy(path: Path) -> list[LinkDoc]:
    """LinkDocs straight from a taxonomy file (the evaluation needs no database)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for chain in raw["chains"]:
        for sub in chain.get("sub_chains", []):
            for link in sub.get("links", []):
                out.append(
                    LinkDoc(
                        code=link["code"],
                        chain=chain["code"],
                        chain_name=chain["name"],
                        name=link["name"],
                        sub_chain_name=sub["name"],
                        stage=link["stage"],
                        keywords=tuple(link.get("keywords", [])),
                        description=link.get("description", ""),
                    )
                )
    return out


def without_structure(data: EvalSet, needs: bool = True, profiles: bool = False) -> EvalSet:
    """The same set with the declared structure removed, as free-text-only users would send it.

    Tuning on these variants too keeps the weights from leaning on chain codes and keywords
    that a real data set may not have.
    """
    new_needs = data.needs
    if needs:
        new_needs = [replace(n, chain=None, link=None, keywords=()) for n in data.needs]
    new_profiles = (
        [replace(p, chains=frozenset(), links=frozenset()) for p in data.profiles]
        if profiles
        else data.profiles
    )
    return EvalSet(new_profiles, new_needs, data.qrels, data.split, data.tags)


def feature_table(
    data: EvalSet, vectors: Encoded, matcher: Matcher, split: str, candidates: int = 200
) -> dict:
    """Per need of a split: its candidates' component values, for weight tuning."""
    out = {}
    for need, qv in zip(data.needs, vectors.needs, strict=True):
        if data.split.get(need.id) != split:
            continue
        ranked = matcher.rank_profiles(need, qv, k=candidates)
        out[need.id] = QueryFeatures(
            ids=[m.id for m in ranked],
            matrix=np.array([m.features.vector() for m in ranked], dtype=np.float64),
        )
    return out
