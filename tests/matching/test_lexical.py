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
