"""The two-stage matcher: per-product signals, stored vector shapes, both directions."""

import numpy as np
import pytest

from matching.documents import NeedDoc, ProfileDoc, product_texts, profile_passages
from matching.features import COMPONENTS, FusionWeights
from matching.matcher import Matcher
from matching.tuning import FLOORS, QueryFeatures, fit_pairwise, mean_ndcg

DIM = 4
SEPARATOR, SPRING, GEAR, OTHER = np.eye(DIM, dtype=np.float32)


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def profiles() -> list[ProfileDoc]:
    return [
        # Many unrelated products and one that is exactly the need.
        ProfileDoc(id="wide", name="甲", products=("弹簧", "齿轮", "紧固件", "锂电池隔膜")),
        # Nothing that is the need.
        ProfileDoc(id="narrow", name="乙", products=("弹簧", "紧固件")),
        ProfileDoc(id="gears", name="丙", products=("齿轮",)),
    ]


def passages(doc: ProfileDoc) -> np.ndarray:
    rows = {"弹簧": SPRING, "齿轮": GEAR, "紧固件": OTHER, "锂电池隔膜": SEPARATOR}
    products = np.stack([rows[p] for p in product_texts(doc)])
    return np.vstack([unit(products.mean(axis=0))[None, :], products])


def matcher(weights: FusionWeights | None = None) -> Matcher:
    m = Matcher(DIM, weights=weights or FusionWeights(), candidates=10)
    docs = profiles()
    m.upsert_profiles(docs, [passages(d) for d in docs])
    return m


def test_passages_are_the_profile_then_each_product_once() -> None:
    doc = ProfileDoc(id=1, name="甲", products=("弹簧", " 弹簧 ", "齿轮"))
    assert profile_passages(doc)[1:] == ["弹簧", "齿轮"]


def test_the_best_single_product_counts() -> None:
    need = NeedDoc(id="n", title="采购动力电池隔膜")
    only_products = FusionWeights.from_dict({c: 0.0 for c in COMPONENTS})
    only_products = FusionWeights.from_dict({**only_products.as_dict(), "dense_product": 1.0})
    ranked = matcher(only_products).rank_profiles(need, SEPARATOR, k=3)
    assert ranked[0].id == "wide"
    # The whole-profile vector of "wide" is diluted by three other products ...
    whole = {m.id: m.features.dense for m in matcher().rank_profiles(need, SEPARATOR, k=3)}
    best = {m.id: m.features.dense_product for m in ranked}
    # ... while its best product stands above every whole-profile score.
    assert best["wide"] > whole["wide"] and best["wide"] > max(whole.values())


def test_components_add_up_to_the_score() -> None:
    need = NeedDoc(id="n", title="采购齿轮", keywords=("齿轮",))
    for m in matcher().rank_profiles(need, GEAR, k=3):
        assert sum(m.components.values()) == pytest.approx(m.score, abs=1e-3)


def test_a_profile_vector_stored_alone_still_ranks() -> None:
    """Vectors stored before products were encoded: the profile row stands in for products."""
    m = Matcher(DIM, candidates=10)
    docs = profiles()
    m.upsert_profiles(docs, [passages(d)[0] for d in docs])
    assert m.product_vectors == {}
    ranked = m.rank_profiles(NeedDoc(id="n", title="齿轮"), GEAR, k=3)
    assert {x.id for x in ranked} == {"wide", "narrow", "gears"}
    for x in ranked:
        assert x.features.dense_product == pytest.approx(x.features.dense, abs=1e-5)


def test_rows_that_do_not_fit_the_products_are_not_used_as_products() -> None:
    m = Matcher(DIM, candidates=10)
    doc = profiles()[0]
    m.upsert_profiles([doc], [passages(doc)[:3]])  # 3 rows for 4 products
    assert doc.id in m.profile_vectors and doc.id not in m.product_vectors


def test_sme_to_needs_uses_the_products_too() -> None:
    m = matcher()
    needs = [
        NeedDoc(id="separator", title="隔膜"),
        NeedDoc(id="gear", title="齿轮箱"),
        NeedDoc(id="paint", title="涂料"),
    ]
    m.upsert_needs(needs, [SEPARATOR, GEAR, unit([0, 0.2, 0.2, 1])])
    wide = profiles()[0]
    ranked = m.rank_needs(wide, passages(wide), k=3)
    assert {x.id for x in ranked[:2]} == {"separator", "gear"}
    for x in ranked:
        assert sum(x.components.values()) == pytest.approx(x.score, abs=1e-3)


def test_removing_a_profile_forgets_its_products() -> None:
    m = matcher()
    m.remove_profiles(["wide"])
    assert "wide" not in m.product_vectors
    ranked = m.rank_profiles(NeedDoc(id="n", title="锂电池隔膜"), SEPARATOR, k=3)
    assert "wide" not in {x.id for x in ranked}


def test_pairwise_fit_finds_the_informative_signal_and_keeps_floors() -> None:
    rng = np.random.default_rng(0)
    queries, qrels = {}, {}
    col = COMPONENTS.index("lexical")
    for q in range(30):
        matrix = rng.normal(size=(40, len(COMPONENTS)))
        for name in FLOORS:  # rule features are rare and 0/-1 in real data
            matrix[:, COMPONENTS.index(name)] = 0.0
        judged = {i: 2 for i in np.argsort(-matrix[:, col])[:4]}
        queries[q] = QueryFeatures(ids=list(range(40)), matrix=matrix)
        qrels[q] = judged
    weights, report = fit_pairwise(queries, qrels, grid=(0.1, 1.0), folds=3)
    values = weights.as_dict()
    assert max(values, key=lambda k: abs(values[k]) if k not in FLOORS else 0) == "lexical"
    assert all(values[k] >= v for k, v in FLOORS.items())
    assert report.queries == 30 and set(report.cv_ndcg) == {0.1, 1.0}
    assert mean_ndcg(queries, qrels, weights) > 0.9


def test_rewritten_profiles_keep_their_products_apart() -> None:
    """Rewriting profiles (more or fewer products) never mixes one's products into another's."""
    m = matcher()
    docs = profiles()
    grown = ProfileDoc(id="narrow", name="乙", products=("弹簧", "紧固件", "锂电池隔膜"))
    shrunk = ProfileDoc(id="wide", name="甲", products=("弹簧",))
    m.upsert_profiles([grown, shrunk], [passages(grown), passages(shrunk)])
    m.upsert_profiles([docs[2]], [passages(docs[2])])
    need = NeedDoc(id="n", title="锂电池隔膜")
    best = {x.id: x.features.lexical_product for x in m.rank_profiles(need, SEPARATOR, k=3)}
    assert best["narrow"] > best["wide"] and best["narrow"] > best["gears"]
    dense = {x.id: x.features.dense_product for x in m.rank_profiles(need, SEPARATOR, k=3)}
    assert dense["narrow"] > dense["wide"]


class CountingPlacer:
    """A placer that puts every text in one link and counts how often it is asked."""

    calls = 0

    def place_many(self, texts, vectors, k=3):
        from matching.placement import Placement

        self.calls += len(texts)
        return [[Placement("x-1", "x", "环节", 1.0, ())] for _ in texts]


def test_stored_needs_and_profiles_are_not_placed_again_per_ranking() -> None:
    placer = CountingPlacer()
    m = Matcher(DIM, candidates=10, placer=placer)
    docs = profiles()
    m.upsert_profiles(docs, [passages(d) for d in docs])
    need = NeedDoc(id="n", title="锂电池隔膜")
    m.upsert_needs([need], [SEPARATOR])
    written = placer.calls
    m.rank_profiles(need, SEPARATOR, k=3)
    m.rank_needs(docs[0], passages(docs[0]), k=3)
    assert placer.calls == written
    # A free-text query (not stored) is placed when it is ranked.
    m.rank_profiles(NeedDoc(id="query", title="隔膜"), SEPARATOR, k=3)
    assert placer.calls == written + 1
