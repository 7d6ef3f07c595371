"""Evaluation of the matcher on labelled sets (no database needed).

Two sets: `real` (data/eval-real: listed companies and the products they report, needs written
apart from the matcher and judged from those products) is the development set; `synthetic`
(data/eval: invented profiles with certificates, regions and tiers) guards what real data lacks.
Rows are validated with the API's own schemas, so the evaluation sees exactly the normalised
values the service would store.
"""

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from app.schemas.demand import DemandCreate
from app.schemas.sme import SmeCreate
from app.services.match_docs import demand_doc_from_input, profile_doc_from_input
from matching.cache import EmbeddingCache
from matching.documents import (
    DemandDoc,
    LinkDoc,
    ProfileDoc,
    demand_text,
    link_text,
    product_texts,
    profile_text,
)
from matching.encoders import Encoder
from matching.evaluation import Scores, evaluate
from matching.features import COMPONENTS, FusionWeights
from matching.index import VectorIndex
from matching.lexical import LexicalIndex
from matching.matcher import Matcher
from matching.placement import LinkPlacer
from matching.tuning import QueryFeatures

SETS = {"real": "eval-real", "synthetic": "eval"}

_DEMAND_EXTRA = ("id", "split", "leader", "leader_city", "tags")


@dataclass
class EvalSet:
    """Profiles, needs and graded judgments."""

    profiles: list[ProfileDoc]
    demands: list[DemandDoc]
    qrels: dict[Hashable, dict[Hashable, int]]
    split: dict[Hashable, str] = field(default_factory=dict)
    tags: dict[Hashable, list[str]] = field(default_factory=dict)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_real_set(directory: Path) -> EvalSet:
    """Read data/eval-real: companies (products by revenue share), needs and graded judgments."""
    profiles = []
    for row in _jsonl(directory / "companies.jsonl"):
        body = {
            "name": row["name"],
            # Listed companies of all China: outside the province, tier unknown to the set.
            "city": "省外",
            "tier": "innovative",
            "products": [
                {"name": p["name"][:200], "market_share": f"{100 * p['share']:.1f}%"}
                for p in row["products"][:50]
            ],
            "description": f"所属行业：{row['industry']}" if row["industry"] else "",
        }
        profiles.append(profile_doc_from_input(SmeCreate.model_validate(body), row["code"]))
    demands, split, tags = [], {}, {}
    for row in _jsonl(directory / "needs.jsonl"):
        body = {
            "leader_id": 1,
            "title": row["title"],
            "description": row["description"],
            "keywords": row["keywords"],
            "chain": row["chain"],
            # The data sets keep their own format: `need_type` (read by the alias too).
            "demand_type": row["need_type"],
        }
        data = DemandCreate.model_validate(body)
        demands.append(demand_doc_from_input(data, row["id"], row["leader"], None))
        split[row["id"]] = row["split"]
        tags[row["id"]] = [row["style"]]
    qrels: dict[Hashable, dict[Hashable, int]] = {}
    for row in _jsonl(directory / "qrels.jsonl"):
        qrels.setdefault(row["need"], {})[row["company"]] = int(row["grade"])
    return EvalSet(profiles, demands, qrels, split, tags)


def load_set(name: str, data_dir: Path, link_chain: dict[str, str]) -> EvalSet:
    """One of SETS by name."""
    if name not in SETS:
        raise ValueError(f"unknown evaluation set {name!r} (one of {', '.join(SETS)})")
    directory = data_dir / SETS[name]
    return load_real_set(directory) if name == "real" else load_eval_set(directory, link_chain)


def load_eval_set(directory: Path, link_chain: dict[str, str]) -> EvalSet:
    """Read and validate data/eval (smes.jsonl, needs.jsonl, qrels.jsonl)."""
    profiles = []
    for row in _jsonl(directory / "smes.jsonl"):
        doc_id = row.pop("id")
        profiles.append(profile_doc_from_input(SmeCreate.model_validate(row), doc_id))
    demands, split, tags = [], {}, {}
    for row in _jsonl(directory / "needs.jsonl"):
        extra = {k: row.pop(k, None) for k in _DEMAND_EXTRA}
        if row.get("link") and not row.get("chain"):
            row["chain"] = link_chain.get(row["link"])
        data = DemandCreate.model_validate({**row, "leader_id": 1})
        demand_id = extra["id"]
        demands.append(
            demand_doc_from_input(data, demand_id, extra["leader"], extra["leader_city"])
        )
        split[demand_id] = extra["split"] or "test"
        tags[demand_id] = list(extra["tags"] or [])
    qrels: dict[Hashable, dict[Hashable, int]] = {}
    for row in _jsonl(directory / "qrels.jsonl"):
        qrels.setdefault(row["need"], {})[row["sme"]] = int(row["grade"])
    return EvalSet(profiles, demands, qrels, split, tags)


@dataclass
class Encoded:
    """The eval set's vectors: per profile its own row and one row per product."""

    profiles: np.ndarray
    demands: np.ndarray
    links: np.ndarray
    products: list[np.ndarray] = field(default_factory=list)

    def passages(self, i: int) -> np.ndarray:
        """The rows the service stores for profile i (profile first, then its products)."""
        if not self.products:
            return self.profiles[i]
        return np.vstack([self.profiles[i][None, :], self.products[i]])


def encode_eval_set(
    data: EvalSet,
    links: list[LinkDoc],
    encoder: Encoder,
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> Encoded:
    """Vectors for profiles and products (passages), needs (queries) and links, cached on disk."""
    passages = EmbeddingCache(cache_dir, encoder.name, "passage")
    queries = EmbeddingCache(cache_dir, encoder.name, "query")
    names = [product_texts(p) for p in data.profiles]
    flat = passages.encode(
        [x for n in names for x in n], encoder.encode_passages, batch=256, progress=progress
    )
    bounds = np.cumsum([0, *(len(n) for n in names)])
    return Encoded(
        profiles=passages.encode(
            [profile_text(p) for p in data.profiles], encoder.encode_passages, progress=progress
        ),
        demands=queries.encode(
            [demand_text(n) for n in data.demands], encoder.encode_queries, progress=progress
        ),
        links=passages.encode(
            [link_text(x) for x in links], encoder.encode_passages, progress=progress
        ),
        products=[flat[a:b] for a, b in pairwise(bounds)],
    )


def passage_count(data: EvalSet, links: list[LinkDoc]) -> int:
    """How many texts `encode_eval_set` encodes when nothing is cached (for progress bars)."""
    return (
        len(data.profiles)
        + sum(len(product_texts(p)) for p in data.profiles)
        + len(data.demands)
        + len(links)
    )


def build_matcher(
    data: EvalSet,
    vectors: Encoded,
    links: list[LinkDoc],
    weights: FusionWeights,
    candidates: int = 200,
    placement: bool = True,
    normalisation: str = "z",
    products: bool = True,
    lexical: dict | None = None,
) -> Matcher:
    """A matcher holding the eval profiles and the taxonomy's links."""
    placer = LinkPlacer().fit(links, vectors.links) if placement else None
    matcher = Matcher(
        dim=vectors.profiles.shape[1],
        weights=weights,
        candidates=candidates,
        placer=placer,
        link_names={x.code: x.name for x in links},
        normalisation=normalisation,
        lexical=lexical,
    )
    rows = [
        vectors.passages(i) if products else vectors.profiles[i] for i in range(len(data.profiles))
    ]
    matcher.upsert_profiles(data.profiles, rows)
    matcher.upsert_demands(data.demands, vectors.demands)
    return matcher


def _z(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    return (values - float(values.mean())) / (std if std > 1e-6 else 1.0)


def _top_ids(ids: list[Hashable], scores: np.ndarray, k: int) -> list[Hashable]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order]


def _rrf(matches, k: int, depth: int = 60) -> list[Hashable]:
    """Reciprocal rank fusion of the four text signals over the matcher's own shortlist."""
    total: dict[Hashable, float] = {m.id: 0.0 for m in matches}
    for name in ("dense", "dense_product", "lexical", "lexical_product"):
        ranked = sorted(matches, key=lambda m, n=name: -getattr(m.features, n))
        for rank, m in enumerate(ranked, start=1):
            total[m.id] += 1.0 / (depth + rank)
    return sorted(total, key=lambda i: (-total[i], str(i)))[:k]


def baselines(
    data: EvalSet, vectors: Encoded, k: int = 100
) -> dict[str, dict[Hashable, list[Hashable]]]:
    """Rankings of every need by TF-IDF alone, e5 alone and their untuned 0.7/0.3 z-blend.

    TF-IDF here is the matcher's own lexical index (character 1-3-grams, equal to
    scikit-learn's TfidfVectorizer on the same texts, tests/matching/test_lexical.py).
    """
    profile_ids = [p.id for p in data.profiles]
    lexical = LexicalIndex().fit(profile_ids, [profile_text(p) for p in data.profiles])
    dense = VectorIndex(vectors.profiles.shape[1])
    dense.upsert(profile_ids, vectors.profiles)
    out: dict[str, dict[Hashable, list[Hashable]]] = {"tfidf": {}, "dense": {}, "blend": {}}
    _, lex_all = lexical.scores_many([demand_text(n) for n in data.demands])
    dense_all = vectors.demands @ dense.matrix.T
    for j, demand in enumerate(data.demands):
        lex, den = lex_all[j].astype(np.float64), dense_all[j].astype(np.float64)
        out["tfidf"][demand.id] = _top_ids(lexical.ids, lex, k)
        out["dense"][demand.id] = _top_ids(dense.ids, den, k)
        out["blend"][demand.id] = _top_ids(profile_ids, 0.7 * _z(den) + 0.3 * _z(lex), k)
    return out


def rankings(
    data: EvalSet, vectors: Encoded, matcher: Matcher, k: int = 100
) -> dict[str, dict[Hashable, list[Hashable]]]:
    """Rankings of every need by the full matcher and by the plain baselines."""
    out = {"full": {}, **baselines(data, vectors, k)}
    for demand, qv in zip(data.demands, vectors.demands, strict=True):
        out["full"][demand.id] = [m.id for m in matcher.rank_profiles(demand, qv, k=k)]
    return out


ABLATIONS = (
    *(f"-{name}" for name in ("dense", "dense_product", "lexical", "lexical_product", "terms")),
    "-link",
    "-per_product",
    "no_placement",
    "relative_norm",
    "shortlist_100",
    "shortlist_400",
    "lexical_2_3_sublinear",
    "rrf",
)


def ablations(
    data: EvalSet,
    vectors: Encoded,
    links: list[LinkDoc],
    weights: FusionWeights,
    candidates: int = 200,
    k: int = 100,
    only: tuple[str, ...] = ABLATIONS,
) -> dict[str, dict[Hashable, list[Hashable]]]:
    """The full matcher with one part changed at a time, ranked on every need."""
    out: dict[str, dict[Hashable, list[Hashable]]] = {}
    for name in only:
        w, options = weights, {}
        if name.startswith("-") and name[1:] in COMPONENTS:
            w = replace(weights, **{name[1:]: 0.0})
        elif name == "-per_product":
            w = replace(weights, dense_product=0.0, lexical_product=0.0)
        elif name == "no_placement":
            options = {"placement": False}
        elif name == "relative_norm":
            options = {"normalisation": "relative"}
        elif name == "lexical_2_3_sublinear":
            options = {"lexical": {"ngrams": (2, 3), "sublinear": True}}
        elif name.startswith("shortlist_"):
            options = {"candidates": int(name.split("_")[1])}
        matcher = build_matcher(data, vectors, links, w, **{"candidates": candidates, **options})
        runs = {}
        for demand, qv in zip(data.demands, vectors.demands, strict=True):
            if name == "rrf":
                runs[demand.id] = _rrf(matcher.rank_profiles(demand, qv, k=candidates * 2), k)
            else:
                runs[demand.id] = [m.id for m in matcher.rank_profiles(demand, qv, k=k)]
        out[name] = runs
    return out


def reverse_rankings(
    data: EvalSet, vectors: Encoded, matcher: Matcher, split: str | None, k: int = 100
) -> tuple[dict[str, dict[Hashable, list[Hashable]]], dict[Hashable, dict[Hashable, int]]]:
    """SME -> needs: each profile relevant to a need of the split ranks that split's needs.

    Returns the rankings per system and the inverted judgments.
    """
    keep = [n for n in data.demands if split is None or data.split.get(n.id) == split]
    kept = {n.id for n in keep}
    qrels: dict[Hashable, dict[Hashable, int]] = {}
    for demand_id, judged in data.qrels.items():
        if demand_id in kept:
            for profile_id, grade in judged.items():
                if grade > 0:
                    qrels.setdefault(profile_id, {})[demand_id] = grade
    demand_ids = [n.id for n in keep]
    at = {n.id: i for i, n in enumerate(data.demands)}
    demand_matrix = vectors.demands[[at[i] for i in demand_ids]]
    lexical = LexicalIndex().fit(demand_ids, [demand_text(n) for n in keep])
    out: dict[str, dict[Hashable, list[Hashable]]] = {
        "full": {},
        "tfidf": {},
        "dense": {},
        "blend": {},
    }
    for i, profile in enumerate(data.profiles):
        if profile.id not in qrels:
            continue
        ids, lex = lexical.scores(profile_text(profile))
        den = demand_matrix @ vectors.profiles[i]
        lex, den = lex.astype(np.float64), den.astype(np.float64)
        out["tfidf"][profile.id] = _top_ids(ids, lex, k)
        out["dense"][profile.id] = _top_ids(demand_ids, den, k)
        out["blend"][profile.id] = _top_ids(demand_ids, 0.7 * _z(den) + 0.3 * _z(lex), k)
        ranked = matcher.rank_demands(
            profile, vectors.passages(i), k=k, where=lambda n: n.id in kept
        )
        out["full"][profile.id] = [m.id for m in ranked]
    return out, qrels


def report(
    data: EvalSet,
    ranked: dict[str, dict[Hashable, list[Hashable]]],
    split: str | None,
    tag: str | None = None,
) -> dict[str, Scores]:
    """Metrics per system, on one split (None: all needs), optionally needs with one tag."""
    keep = {
        n.id
        for n in data.demands
        if (split is None or data.split.get(n.id) == split)
        and (tag is None or tag in data.tags.get(n.id, ()))
    }
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


def without_structure(data: EvalSet, demands: bool = True, profiles: bool = False) -> EvalSet:
    """The same set with the declared structure removed, as free-text-only users would send it.

    Tuning on these variants too keeps the weights from leaning on chain codes and keywords
    that a real data set may not have.
    """
    new_demands = data.demands
    if demands:
        new_demands = [replace(n, chain=None, link=None, keywords=()) for n in data.demands]
    new_profiles = (
        [replace(p, chains=frozenset(), links=frozenset()) for p in data.profiles]
        if profiles
        else data.profiles
    )
    return EvalSet(new_profiles, new_demands, data.qrels, data.split, data.tags)


def feature_table(
    data: EvalSet, vectors: Encoded, matcher: Matcher, split: str, candidates: int = 200
) -> dict:
    """Per need of a split: its candidates' component values, for weight tuning."""
    out = {}
    for demand, qv in zip(data.demands, vectors.demands, strict=True):
        if data.split.get(demand.id) != split:
            continue
        ranked = matcher.rank_profiles(demand, qv, k=candidates)
        out[demand.id] = QueryFeatures(
            ids=[m.id for m in ranked],
            matrix=np.array([m.features.vector() for m in ranked], dtype=np.float64),
        )
    return out


SYSTEM_LABELS = {
    "full": "full matcher",
    "tfidf": "TF-IDF (char 1-3) alone",
    "dense": "e5 alone",
    "blend": "untuned 0.7·z(e5) + 0.3·z(TF-IDF)",
}


@dataclass
class EvalRun:
    """Metrics of one evaluation: per system, overall and per tag; and SME -> needs."""

    set_name: str
    split: str | None
    demands: dict[str, dict[str, Scores]]
    by_tag: dict[str, dict[str, Scores]]
    reverse: dict[str, Scores]

    def as_dict(self) -> dict:
        return {
            "set": self.set_name,
            "split": self.split or "all",
            "demand_to_smes": {s: v.as_dict() for s, v in self.demands.items()},
            "by_tag": {
                tag: {s: v.as_dict() for s, v in runs.items()} for tag, runs in self.by_tag.items()
            },
            "sme_to_demands": {s: v.as_dict() for s, v in self.reverse.items()},
        }


def run_evaluation(
    set_name: str,
    data: EvalSet,
    vectors: Encoded,
    links: list[LinkDoc],
    weights: FusionWeights,
    candidates: int = 200,
    split: str | None = "test",
    with_ablations: bool = True,
) -> EvalRun:
    """The full matcher, the baselines and (optionally) every ablation, both directions."""
    matcher = build_matcher(data, vectors, links, weights, candidates)
    ranked = rankings(data, vectors, matcher)
    if with_ablations:
        ranked.update(ablations(data, vectors, links, weights, candidates))
    tags = sorted({t for ts in data.tags.values() for t in ts})
    reverse, reverse_qrels = reverse_rankings(data, vectors, matcher, split)
    return EvalRun(
        set_name=set_name,
        split=split,
        demands=report(data, ranked, split),
        by_tag={tag: report(data, ranked, split, tag) for tag in tags},
        reverse={s: evaluate(runs, reverse_qrels) for s, runs in reverse.items()},
    )


def tuning_tables(
    sets: dict[str, tuple[EvalSet, Encoded]],
    links: list[LinkDoc],
    split: str,
    weights: FusionWeights,
) -> tuple[dict, dict]:
    """Component tables of every shortlisted candidate, per (set, need) of a split."""
    tables, qrels = {}, {}
    for name, (data, vectors) in sets.items():
        matcher = build_matcher(data, vectors, links, weights)
        for demand_id, feats in feature_table(data, vectors, matcher, split, 10**6).items():
            tables[(name, demand_id)] = feats
            qrels[(name, demand_id)] = data.qrels.get(demand_id, {})
    return tables, qrels
