"""The two-stage matcher: per-product signals, stored vector shapes, both directions."""

from dataclasses import replace

import numpy as np
import pytest

from matching.documents import DemandDoc, ProfileDoc, product_texts, profile_passages
from matching.features import COMPONENTS, FusionWeights
from matching.matcher import DemandFilter, Matcher, ProfileFilter
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
    demand = DemandDoc(id="n", title="采购动力电池隔膜")
    only_products = FusionWeights.from_dict({c: 0.0 for c in COMPONENTS})
    only_products = FusionWeights.from_dict({**only_products.as_dict(), "dense_product": 1.0})
    ranked = matcher(only_products).rank_profiles(demand, SEPARATOR, k=3)
    assert ranked[0].id == "wide"
    # The whole-profile vector of "wide" is diluted by three other products ...
    whole = {m.id: m.features.dense for m in matcher().rank_profiles(demand, SEPARATOR, k=3)}
    best = {m.id: m.features.dense_product for m in ranked}
    # ... while its best product stands above every whole-profile score.
    assert best["wide"] > whole["wide"] and best["wide"] > max(whole.values())


def test_components_add_up_to_the_score() -> None:
    demand = DemandDoc(id="n", title="采购齿轮", keywords=("齿轮",))
    for m in matcher().rank_profiles(demand, GEAR, k=3):
        assert sum(m.components.values()) == pytest.approx(m.score, abs=1e-3)


def test_a_profile_vector_stored_alone_still_ranks() -> None:
    """Vectors stored before products were encoded: the profile row stands in for products."""
    m = Matcher(DIM, candidates=10)
    docs = profiles()
    m.upsert_profiles(docs, [passages(d)[0] for d in docs])
    assert m.product_vectors == {}
    ranked = m.rank_profiles(DemandDoc(id="n", title="齿轮"), GEAR, k=3)
    assert {x.id for x in ranked} == {"wide", "narrow", "gears"}
    for x in ranked:
        assert x.features.dense_product == pytest.approx(x.features.dense, abs=1e-5)


def test_rows_that_do_not_fit_the_products_are_not_used_as_products() -> None:
    m = Matcher(DIM, candidates=10)
    doc = profiles()[0]
    m.upsert_profiles([doc], [passages(doc)[:3]])  # 3 rows for 4 products
    assert doc.id in m.profile_vectors and doc.id not in m.product_vectors


def test_sme_to_demands_uses_the_products_too() -> None:
    m = matcher()
    demands = [
        DemandDoc(id="separator", title="隔膜"),
        DemandDoc(id="gear", title="齿轮箱"),
        DemandDoc(id="paint", title="涂料"),
    ]
    m.upsert_demands(demands, [SEPARATOR, GEAR, unit([0, 0.2, 0.2, 1])])
    wide = profiles()[0]
    ranked = m.rank_demands(wide, passages(wide), k=3)
    assert {x.id for x in ranked[:2]} == {"separator", "gear"}
    for x in ranked:
        assert sum(x.components.values()) == pytest.approx(x.score, abs=1e-3)


def test_removing_a_profile_forgets_its_products() -> None:
    m = matcher()
    m.remove_profiles(["wide"])
    assert "wide" not in m.product_vectors
    ranked = m.rank_profiles(DemandDoc(id="n", title="锂电池隔膜"), SEPARATOR, k=3)
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
    demand = DemandDoc(id="n", title="锂电池隔膜")
    best = {x.id: x.features.lexical_product for x in m.rank_profiles(demand, SEPARATOR, k=3)}
    assert best["narrow"] > best["wide"] and best["narrow"] > best["gears"]
    dense = {x.id: x.features.dense_product for x in m.rank_profiles(demand, SEPARATOR, k=3)}
    assert dense["narrow"] > dense["wide"]


class CountingPlacer:
    """A placer that puts every text in one link and counts how often it is asked."""

    calls = 0

    def place_many(self, texts, vectors, k=3):
        from matching.placement import Placement

        self.calls += len(texts)
        return [[Placement("x-1", "x", "环节", 1.0, ())] for _ in texts]


def test_stored_demands_and_profiles_are_not_placed_again_per_ranking() -> None:
    placer = CountingPlacer()
    m = Matcher(DIM, candidates=10, placer=placer)
    docs = profiles()
    m.upsert_profiles(docs, [passages(d) for d in docs])
    demand = DemandDoc(id="n", title="锂电池隔膜")
    m.upsert_demands([demand], [SEPARATOR])
    written = placer.calls
    m.rank_profiles(demand, SEPARATOR, k=3)
    m.rank_demands(docs[0], passages(docs[0]), k=3)
    assert placer.calls == written
    # A free-text query (not stored) is placed when it is ranked.
    m.rank_profiles(DemandDoc(id="query", title="隔膜"), SEPARATOR, k=3)
    assert placer.calls == written + 1


# -- vectorised selection ---------------------------------------------------------------------


def corpus(n: int = 60) -> tuple[list[ProfileDoc], list[np.ndarray]]:
    """Profiles with varied cities, tiers, chains, certificates and declared links."""
    rng = np.random.default_rng(3)
    cities, tiers = ("济南", "青岛", "烟台", None), ("sme", "specialised", "little_giant")
    words = ("轴承", "齿轮", "铸件", "电机", "隔膜", "焊接", "涂装", "模具")
    docs, rows = [], []
    for i in range(n):
        doc = ProfileDoc(
            id=i,
            name=f"企业{i}",
            products=(words[i % 8], words[(3 * i) % 8]),
            description=f"{words[(5 * i) % 8]}加工",
            city=cities[i % 4],
            tier=tiers[i % 3],
            chains=frozenset({("equipment", "auto", "chem")[i % 3]}) if i % 5 else frozenset(),
            certifications=frozenset({"ISO 9001"} if i % 2 else {"IATF 16949", "ISO 9001"}),
            links=frozenset({f"equipment-{i % 6}"}) if i % 4 == 0 else frozenset(),
        )
        docs.append(doc)
        rows.append(np.stack([unit(rng.standard_normal(DIM)) for _ in range(3)]))
    return docs, rows


def ranked(matches) -> list[tuple]:
    return [(m.id, m.score) for m in matches]


@pytest.mark.parametrize(
    "where",
    [
        ProfileFilter(chain="auto"),
        ProfileFilter(city="青岛", tier="sme"),
        ProfileFilter(certification="IATF 16949", chain="equipment"),
        ProfileFilter(ids=frozenset({3, 7, 11, 999})),
        ProfileFilter(city="不存在"),
    ],
)
def test_a_profile_filter_selects_as_its_predicate_does(where: ProfileFilter) -> None:
    docs, rows = corpus()
    m = Matcher(DIM, candidates=8)
    m.upsert_profiles(docs, rows)
    m.remove_profiles([5, 6])
    demand = DemandDoc(id="n", title="轴承 齿轮", link="equipment-0")
    query = unit(np.ones(DIM))
    as_masks = m.rank_profiles(demand, query, k=30, where=where)
    as_callable = m.rank_profiles(demand, query, k=30, where=lambda p: where(p))
    assert ranked(as_masks) == ranked(as_callable)
    assert all(where(m.profiles[x.id]) for x in as_masks)


def test_a_demand_filter_keeps_the_open_demands_as_is_open_does() -> None:
    from datetime import date

    docs, rows = corpus(10)
    m = Matcher(DIM)
    m.upsert_profiles(docs, rows)
    demands = [
        DemandDoc(id=1, title="轴承"),
        DemandDoc(id=2, title="轴承 齿轮", status="closed"),
        DemandDoc(id=3, title="齿轮", valid_until=date(2020, 1, 1)),
        DemandDoc(id=4, title="铸件", valid_until=date(2099, 1, 1), status="docking"),
    ]
    m.upsert_demands(demands, [unit(np.ones(DIM))] * 4)
    today = date(2026, 12, 3)
    got = m.rank_demands(docs[0], rows[0], where=DemandFilter(open_on=today))
    assert ranked(got) == ranked(m.rank_demands(docs[0], rows[0], where=lambda n: n.is_open(today)))
    assert {x.id for x in got} == {1, 4}


def test_past_exact_needs_a_profile_is_scored_against_each_signals_best_needs() -> None:
    docs, rows = corpus(10)
    demands = [DemandDoc(id=i, title=f"需求{i} 涂料") for i in range(40)]
    demands.append(DemandDoc(id="fit", title="轴承 齿轮 铸件", keywords=("轴承",)))
    rng = np.random.default_rng(5)
    vectors = [unit(rng.standard_normal(DIM)) for _ in demands[:-1]] + [rows[0][0]]
    exact, shortlisted = Matcher(DIM, candidates=6), Matcher(DIM, candidates=6, exact_demands=5)
    for m in (exact, shortlisted):
        m.upsert_profiles(docs, rows)
        m.upsert_demands(demands, vectors)
    full = exact.rank_demands(docs[0], rows[0], k=3)
    fast = shortlisted.rank_demands(docs[0], rows[0], k=3)
    assert fast[0].id == full[0].id == "fit"


def test_rankings_after_writes_and_a_refresh_equal_a_fresh_matchers() -> None:
    docs, rows = corpus(40)
    demand = DemandDoc(id="n", title="轴承 齿轮 焊接", link="equipment-0")
    query = unit(np.arange(1, DIM + 1))
    live = Matcher(DIM, candidates=10, lexical={"exact_rows": 0, "delta_rows": 1000})
    live.upsert_profiles(docs, rows)
    live.rank_profiles(demand, query)  # the first snapshot
    changed = [replace(d, description=d.description + " 精密轴承 数控") for d in docs[:8]]
    live.upsert_profiles(changed, rows[:8])
    live.remove_profiles([10, 11, 12])
    assert live.profile_lexical.pending > 0  # absorbed in the delta, not rebuilt
    live.rank_profiles(demand, query)
    live.refresh()
    current = {d.id: (d, r) for d, r in zip(docs, rows, strict=True)}
    for d, r in zip(changed, rows[:8], strict=True):
        current[d.id] = (d, r)
    for key in (10, 11, 12):
        del current[key]
    rebuilt = Matcher(DIM, candidates=10)
    # The same write order as the live matcher's, so rows line up as they would after a restart.
    rebuilt.upsert_profiles([d for d, _ in current.values()], [r for _, r in current.values()])
    assert ranked(live.rank_profiles(demand, query, k=40)) == ranked(
        rebuilt.rank_profiles(demand, query, k=40)
    )


def test_the_sampled_top_of_a_large_signal_is_the_exact_top() -> None:
    from matching.matcher import SAMPLED_TOP_ABOVE, _top

    rng = np.random.default_rng(11)
    values = rng.standard_normal(SAMPLED_TOP_ABOVE * 3)
    values[rng.random(values.size) < 0.7] = -np.inf  # a filter that keeps 30%
    finite = np.flatnonzero(np.isfinite(values))
    for k in (1, 50, 100):
        exact = finite[np.argsort(-values[finite])[:k]]
        assert set(_top(values, k).tolist()) == set(exact.tolist())
    # Too few finite values for the sample: every finite one.
    few = np.full(SAMPLED_TOP_ABOVE * 3, -np.inf)
    few[[5, 70_000, 140_000]] = [1.0, 2.0, 3.0]
    assert sorted(_top(few, 100).tolist()) == [5, 70_000, 140_000]


def test_a_bulk_write_lets_rankings_in_between_its_chunks() -> None:
    import threading

    docs, rows = corpus(7)
    m = Matcher(DIM, write_chunk=3)
    free: list[bool] = []
    counts = m.profile_lexical.counts

    def counting(texts, like=None):
        # Another thread (a ranking) tries the matcher's lock as each chunk is prepared.
        def attempt() -> None:
            got = m._lock.acquire(timeout=2)
            if got:
                m._lock.release()
            free.append(got)

        t = threading.Thread(target=attempt)
        t.start()
        t.join()
        return counts(texts, like)

    m.profile_lexical.counts = counting
    m.upsert_profiles(docs, rows)
    assert free == [True, True, True]  # 3 + 3 + 1 profiles, the lock free before each
    m.remove_profiles([0, 1, 2, 3])
    assert set(m.profiles) == {4, 5, 6}


def test_chunked_writes_rank_as_one_write_does() -> None:
    docs, rows = corpus(40)
    demands = [DemandDoc(id=i, title=t) for i, t in enumerate(("轴承", "齿轮 铸件", "焊接 涂装"))]
    demand_vectors = [unit(np.arange(1, DIM + 1) * (i + 1) % 7 + 1) for i in range(3)]
    whole, chunked = Matcher(DIM, candidates=10), Matcher(DIM, candidates=10, write_chunk=7)
    for m in (whole, chunked):
        m.upsert_profiles(docs, rows)
        m.upsert_demands(demands, demand_vectors)
        m.remove_profiles(range(0, 40, 3))
        m.remove_demands([1])
    for demand, vector in zip(demands, demand_vectors, strict=True):
        assert ranked(whole.rank_profiles(demand, vector, k=40)) == ranked(
            chunked.rank_profiles(demand, vector, k=40)
        )
    assert ranked(whole.rank_demands(docs[1], rows[1])) == ranked(
        chunked.rank_demands(docs[1], rows[1])
    )


def test_vectors_for_unchanged_wording_leave_the_lexical_rows_and_rank_as_a_fresh_matcher() -> None:
    """The encoding queue re-writes each profile with its vector: only the vector changes."""
    docs, rows = corpus(40)
    demand = DemandDoc(id="n", title="轴承 齿轮 焊接", link="equipment-0")
    query = unit(np.arange(1, DIM + 1))
    rng = np.random.default_rng(8)
    encoded = [unit(rng.standard_normal((len(r), DIM))) for r in rows]
    live = Matcher(DIM, candidates=10, lexical={"exact_rows": 0, "delta_rows": 1000})
    # A bulk load: the first 30 profiles arrive without vectors, as imported rows do.
    live.upsert_profiles(docs, [None] * 30 + rows[30:])
    live.rank_profiles(demand, query)
    generation = live.profile_lexical.generation
    # Then their vectors land, and one profile's wording changes along with its vector.
    edited = replace(docs[3], description="精密轴承 数控")
    live.upsert_profiles([*docs[:3], edited, *docs[4:30]], encoded[:30])
    assert live.profile_lexical.pending == 1  # only the edited profile's row was rewritten
    assert live.profile_lexical.generation == generation
    fresh = Matcher(DIM, candidates=10, lexical={"exact_rows": 0, "delta_rows": 1000})
    fresh.upsert_profiles([*docs[:3], edited, *docs[4:]], encoded[:30] + rows[30:])
    live.refresh()
    fresh.refresh()
    assert ranked(live.rank_profiles(demand, query, k=40)) == ranked(
        fresh.rank_profiles(demand, query, k=40)
    )
    assert {d.id: live.profile_links[d.id] for d in docs} == {
        d.id: fresh.profile_links[d.id] for d in docs
    }
    # A vector dropped again (a stale one) leaves the profile ranked by wording only.
    live.upsert_profiles([docs[5]], [None])
    assert live.profile_vectors.vector(5) is None and live.profile_lexical.pending == 0
