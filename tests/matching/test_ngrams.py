"""The vectorised n-gram hashing equals scikit-learn's HashingVectorizer, count for count."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import murmurhash3_32

from matching.lexical import _vectorizer
from matching.ngrams import char_ngram_counts, murmur3_32

ROOT = Path(__file__).resolve().parents[2]
EDGES = [
    "",
    " ",
    "a",
    "ab",
    "  多  空格\t\t制表\u3000\u3000全角 单\t制表",
    "Ünïcödé ÀBC",
    "𠀀𠀁 emoji 😀😀😀x",
    "IGBT模块 GB/T 3077-2015 Q345E",
    "x\ny\r\n\nz",
    "机" * 500,
]


def corpus() -> list[str]:
    texts = []
    for line in (ROOT / "data" / "eval-real" / "companies.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        texts.append(row["name"] + "；" + "；".join(p["name"] for p in row["products"]))
    for line in (ROOT / "data" / "eval" / "smes.jsonl").read_text("utf-8").splitlines():
        texts.append(json.dumps(json.loads(line), ensure_ascii=False))
    return texts + EDGES


@pytest.mark.parametrize("ngrams", [(1, 3), (2, 3), (1, 1)])
@pytest.mark.parametrize("n_features", [2**20, 2**18])
def test_counts_equal_the_hashing_vectorizers(ngrams: tuple[int, int], n_features: int) -> None:
    texts = corpus()
    ref = _vectorizer(n_features, ngrams).transform(texts).tocsr().astype(np.float32)
    ref.sort_indices()
    ours = char_ngram_counts(texts, ngrams, n_features)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.array_equal(ours.indptr, ref.indptr)
    assert np.array_equal(ours.indices, ref.indices)
    assert np.array_equal(ours.data, ref.data)


def test_murmur3_equals_scikit_learns() -> None:
    rng = np.random.default_rng(0)
    strings = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in range(13)] * 20
    width = 16
    padded = np.zeros((len(strings), width), dtype=np.uint8)
    for i, b in enumerate(strings):
        padded[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    lengths = np.array([len(b) for b in strings])
    ours = murmur3_32(padded.view("<u4"), lengths)
    expected = [murmurhash3_32(b, seed=0, positive=True) for b in strings]
    assert ours.tolist() == expected


def test_a_lone_surrogate_is_hashed_not_refused() -> None:
    counts = char_ngram_counts(["坏\ud800字"], (1, 3), 2**18)
    assert counts.sum() == 3 + 2 + 1
