import re
from pathlib import Path

from app.services.evaluation import links_from_taxonomy
from matching.placement import LinkPlacer

ROOT = Path(__file__).resolve().parents[2]


def alternation(placer: LinkPlacer) -> re.Pattern:
    """One regex alternation of the keywords, longest first (the former scan)."""
    alternatives = sorted(placer.keyword_owners_, key=len, reverse=True)
    return re.compile("|".join(re.escape(k) for k in alternatives))


def test_the_keyword_scan_finds_what_a_longest_first_alternation_finds() -> None:
    links = links_from_taxonomy(ROOT / "data" / "chains" / "sd-2022.json")
    placer = LinkPlacer().fit(links, None)
    texts = []
    for line in (ROOT / "data" / "demo" / "smes.json").read_text(encoding="utf-8").splitlines():
        texts.append(line.lower())
    texts += [
        "谐波减速器与减速器",  # a longer keyword wins over the one inside it
        "数控机床数控机床",
        "",
        "a",
    ]
    texts += [f"{x.name}{''.join(x.keywords)}".lower() for x in links]
    pattern = alternation(placer)
    assert any(placer._keywords_in(t) for t in texts)
    for text in texts:
        assert placer._keywords_in(text) == set(pattern.findall(text)), text


def test_placements_keep_the_matched_keywords() -> None:
    links = links_from_taxonomy(ROOT / "data" / "chains" / "sd-2022.json")
    placer = LinkPlacer().fit(links, None)
    link = next(x for x in links if x.keywords)
    word = link.keywords[0]
    placed = {p.code: p for p in placer.place(f"本公司生产{word}", None, k=3)}
    assert link.code in placed
    assert word.lower() in placed[link.code].matched_keywords


def test_the_top_of_every_row_at_once_equals_each_rows_own_top() -> None:
    import numpy as np

    from matching.index import top_k
    from matching.placement import _top_rows

    rng = np.random.default_rng(2)
    scores = rng.integers(0, 5, size=(200, 40)).astype(np.float32)  # many ties
    for k in (1, 3, 40, 50):
        rows = _top_rows(scores, k)
        assert [r.tolist() for r in rows] == [top_k(s, k).tolist() for s in scores]


def test_codes_many_are_the_codes_of_place_many() -> None:
    import numpy as np

    links = links_from_taxonomy(ROOT / "data" / "chains" / "sd-2022.json")
    rng = np.random.default_rng(4)
    placer = LinkPlacer().fit(links, rng.standard_normal((len(links), 8)).astype(np.float32))
    texts = ["数控机床主轴", "锂电池隔膜 涂布", "转向架构架焊接", ""]
    vectors = rng.standard_normal((len(texts), 8)).astype(np.float32)
    expected = [frozenset(p.code for p in ps) for ps in placer.place_many(texts, vectors, k=3)]
    assert placer.codes_many(texts, vectors, k=3) == expected
