import threading

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.lexical import LexicalIndex

DOCS = [
    "数控机床床身铸件",
    "纯棉床上用品四件套",
    "转向架构架焊接件",
    "IGBT功率模块 车规级",
    "机床主轴",
]


def test_scores_equal_sklearn_tfidf_cosine() -> None:
    index = LexicalIndex(n_features=2**20).fit(list(range(len(DOCS))), DOCS)
    ids, ours = index.scores("数控机床主轴")
    ref = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    matrix = ref.fit_transform(DOCS)
    expected = (matrix @ ref.transform(["数控机床主轴"]).T).toarray().ravel()
    assert ids == list(range(len(DOCS)))
    assert np.allclose(ours, expected, atol=1e-5)


def test_lexical_trap_bed_vs_machine_tool() -> None:
    index = LexicalIndex().fit(list(range(len(DOCS))), DOCS)
    _, scores = index.scores("机床")
    # 床上用品 shares only the single character 床: far below both real machine-tool texts.
    assert scores[1] < 0.25 * min(scores[0], scores[4])


def test_updates_change_idf_and_removal() -> None:
    index = LexicalIndex().fit(["a", "b"], DOCS[:2])
    _, before = index.scores("机床")
    index.upsert(["c"], ["机床 机床 机床"])
    ids, after = index.scores("机床")
    assert ids == ["a", "b", "c"] and after[0] < before[0]  # 机床 became less rare
    index.remove(["c"])
    ids, again = index.scores("机床")
    assert ids == ["a", "b"] and np.allclose(again, before)


def test_many_queries_match_single() -> None:
    index = LexicalIndex().fit(list(range(len(DOCS))), DOCS)
    _, many = index.scores_many(["机床", "IGBT模块"])
    assert np.allclose(many[0], index.scores("机床")[1])
    assert np.allclose(many[1], index.scores("IGBT模块")[1])


# -- writes absorbed without a rebuild -------------------------------------------------------

PARTS = ("零件", "总成", "模块")
MORE = [f"{a}{b}" for a in ("精密", "铸造", "焊接", "电机", "轴承") for b in PARTS]


class Corpus:
    """An index past its exact size (writes go to the delta until it outgrows the limit)
    and the texts it holds, to compare with one indexed from scratch."""

    def __init__(self, **options) -> None:
        self.index = LexicalIndex(exact_rows=0, delta_rows=4, delta_share=0.0, **options)
        self.texts: dict[str, str] = {}
        self.upsert([f"d{i}" for i in range(len(MORE))], MORE)
        self.index.row_scores("机床")  # the first snapshot is built in the foreground

    def upsert(self, keys: list[str], texts: list[str]) -> None:
        self.index.upsert(keys, texts)
        for key, text in zip(keys, texts, strict=True):
            self.texts.pop(key, None)
            self.texts[key] = text

    def remove(self, keys: list[str]) -> None:
        self.index.remove(keys)
        for key in keys:
            self.texts.pop(key)

    def exact(self, query: str) -> tuple[list, np.ndarray]:
        """Scores of an index built from scratch on the live documents, in the same order."""
        keys = self.index.ids
        return LexicalIndex().fit(keys, [self.texts[k] for k in keys]).scores(query)


def test_a_write_is_scored_at_once_without_rebuilding() -> None:
    corpus = Corpus(background=False)
    index = corpus.index
    generation = index.generation
    before = index.row_scores("精密轴承")
    corpus.upsert(["d0", "new"], ["精密轴承 数控机床", "精密轴承"])
    after = index.row_scores("精密轴承")
    assert index.generation == generation and index.pending == 2  # no rebuild
    new = index.rows(["new"])[0]
    assert after[new] > 0 and after[0] > before[0]
    # Rows nobody wrote keep their scores: the snapshot's IDF is still in use.
    untouched = np.arange(1, len(MORE))
    assert np.array_equal(after[untouched], before[untouched])


def test_past_the_limit_the_index_is_rebuilt_and_exact_again() -> None:
    corpus = Corpus(background=False)
    corpus.upsert([f"n{i}" for i in range(5)], [f"数控机床{i}" for i in range(5)])
    corpus.remove(["d3"])
    corpus.index.row_scores("机床")
    assert corpus.index.pending == 0
    ids, ours = corpus.index.scores("数控机床 精密零件")
    ref_ids, ref = corpus.exact("数控机床 精密零件")
    assert ids == ref_ids and np.array_equal(ours, ref)


def test_refresh_makes_scores_exact() -> None:
    corpus = Corpus()
    corpus.upsert(["d1", "x"], ["铸造 机床床身", "焊接机器人"])
    corpus.remove(["d2"])
    corpus.index.refresh()
    ids, ours = corpus.index.scores("机床 焊接")
    ref_ids, ref = corpus.exact("机床 焊接")
    assert ids == ref_ids and np.array_equal(ours, ref)


def test_reads_go_on_while_a_rebuild_runs() -> None:
    corpus = Corpus()
    index = corpus.index
    started, release = threading.Event(), threading.Event()
    build = index._build

    def slow_build(*args):
        started.set()
        assert release.wait(10)
        return build(*args)

    index._build = slow_build
    corpus.upsert([f"n{i}" for i in range(6)], [f"数控机床{i}" for i in range(6)])
    first = index.row_scores("数控机床")  # starts the background rebuild, does not wait
    assert started.wait(10)
    during = index.row_scores("数控机床")  # answered from snapshot + delta
    assert np.array_equal(first, during) and index.pending == 6
    release.set()
    index.refresh()
    assert index.pending == 0
    _, ours = index.scores("数控机床")
    assert np.array_equal(ours, corpus.exact("数控机床")[1])


def test_gathered_rows_score_as_the_full_product() -> None:
    corpus = Corpus(background=False)
    index = corpus.index
    corpus.upsert(["d4", "y"], ["电机 轴承 精密", "轴承总成"])
    rows = np.array([0, 4, 7, index.rows(["y"])[0], 2])
    for query in ("精密轴承", "电机总成", "无关文本"):
        assert np.array_equal(index.gather_scores(query, rows), index.row_scores(query)[rows])


def test_removed_rows_stay_dead_and_a_document_written_again_gets_a_new_row() -> None:
    index = LexicalIndex().fit(["a", "b", "c"], DOCS[:3])
    row_b = index.rows(["b"])[0]
    index.remove(["b"])
    assert index.ids == ["a", "c"] and index.row_scores("床上用品")[row_b] == 0.0
    index.upsert(["b"], [DOCS[1]])
    assert index.ids == ["a", "c", "b"] and index.rows(["b"])[0] == 3
    assert index.key_at(row_b) is None and not index.alive()[row_b]


def test_counts_fold_exactly_into_a_narrower_index() -> None:
    wide, narrow = LexicalIndex(n_features=2**20), LexicalIndex(n_features=2**18)
    assert narrow.folds_from(wide)
    folded = narrow.counts(DOCS + MORE, like=wide)
    direct = narrow.counts(DOCS + MORE)
    assert (folded != direct).nnz == 0 and np.array_equal(folded.indices, direct.indices)
    assert not LexicalIndex(ngrams=(2, 3)).folds_from(wide)
