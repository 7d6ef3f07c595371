"""The matcher on the labelled set: it must beat TF-IDF alone and dense alone clearly.

Uses the real e5 encoder; vectors are cached under var/cache, so only the first run encodes.
"""

import pytest

from app.config import PROJECT_ROOT, Settings
from app.services import evaluation
from app.services.matching import build_encoder
from matching.features import FusionWeights

DATA = PROJECT_ROOT / "data"


@pytest.fixture(scope="module")
def prepared():
    links = evaluation.links_from_taxonomy(DATA / "chains" / "sd-2022.json")
    data = evaluation.load_eval_set(DATA / "eval", {x.code: x.chain for x in links})
    return links, data, build_encoder(Settings())


def test_eval_set_is_what_the_issue_asks(prepared) -> None:
    _, data, _ = prepared
    assert len(data.needs) >= 150 and len(data.profiles) >= 1000
    assert len({n.chain for n in data.needs if n.chain}) == 11
    assert all(any(g >= 2 for g in data.qrels[n.id].values()) for n in data.needs)
    tags = {t for ts in data.tags.values() for t in ts}
    assert {"paraphrase", "lexical_trap", "cert_gated", "regional"} <= tags


@pytest.mark.parametrize("variant", ["as-written", "no-structure"])
def test_full_matcher_beats_each_signal_by_ten_percent(prepared, variant: str) -> None:
    links, data, encoder = prepared
    if variant == "no-structure":
        data = evaluation.without_structure(data, needs=True, profiles=True)
    vectors = evaluation.encode_eval_set(data, links, encoder, PROJECT_ROOT / "var" / "cache")
    matcher = evaluation.build_matcher(data, vectors, links, FusionWeights())
    scores = evaluation.report(data, evaluation.rankings(data, vectors, matcher), "test")
    best_single = max(scores["tfidf"].ndcg10, scores["dense"].ndcg10)
    assert scores["full"].ndcg10 >= 1.10 * best_single, {k: v.as_dict() for k, v in scores.items()}
    assert scores["full"].recall50 >= max(scores["tfidf"].recall50, scores["dense"].recall50)
