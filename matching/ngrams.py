"""Hashed character n-gram counts, vectorised: what scikit-learn's HashingVectorizer computes.

`HashingVectorizer(analyzer="char", lowercase=True, alternate_sign=False, norm=None)` builds a
Python list of n-gram strings per text and hashes each one (MurmurHash3, x86 32-bit, of its
UTF-8 bytes, seed 0, `abs(h) % n_features`). Loading 10^5 profiles spent most of its time
there. This does the same arithmetic over whole batches of texts with numpy: the texts'
UTF-8 bytes in one buffer, every n-gram's bytes gathered into a zero-padded row, MurmurHash3
computed column-wise in uint32. The counts are identical (tests/matching/test_ngrams.py checks
them against scikit-learn on the project's corpora); only the time differs.
"""

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

# scikit-learn's whitespace normalisation for character n-grams (runs of two or more).
_WHITE_SPACES = re.compile(r"\s\s+")
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
# Texts per batch: bounds the temporary arrays (about 1 KB per character of a batch).
BATCH = 512


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmur3_32(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """MurmurHash3 (x86, 32-bit, seed 0) of byte strings given as little-endian words.

    `words` holds each string's bytes zero-padded to whole 32-bit words (one row each);
    `lengths` their byte lengths.
    """
    n = lengths.size
    h = np.zeros(n, dtype=np.uint32)
    blocks = lengths // 4
    with np.errstate(over="ignore"):
        for b in range(words.shape[1]):
            take = blocks > b
            if not take.any():
                break
            k = words[:, b] * _C1
            k = _rotl(k, 15) * _C2
            mixed = _rotl(h ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
            h = np.where(take, mixed, h)
        tail = (lengths & 3) != 0
        if tail.any():
            # The zero padding makes the tail word exactly the tail's bytes.
            at = np.minimum(blocks, words.shape[1] - 1)
            k = words[np.arange(n), at] * _C1
            k = _rotl(k, 15) * _C2
            h = np.where(tail, h ^ k, h)
        h ^= lengths.astype(np.uint32)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


def _feature(h: np.ndarray, n_features: int) -> np.ndarray:
    """scikit-learn's feature index of a signed 32-bit hash: abs(h) % n_features."""
    signed = h.view(np.int32).astype(np.int64)
    out = np.abs(signed) % n_features
    out[signed == -(2**31)] = (2147483647 - (n_features - 1)) % n_features
    return out


def _batch(texts: list[str], ngrams: tuple[int, int], n_features: int) -> sp.csr_matrix:
    lo, hi = ngrams
    prepared = [_WHITE_SPACES.sub(" ", t.lower()) for t in texts]
    chars = np.fromiter((len(t) for t in prepared), dtype=np.int64, count=len(prepared))
    joined = "".join(prepared)
    try:
        data = joined.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (scikit-learn would fail): hashed as its own bytes, not refused.
        data = joined.encode("utf-8", "surrogatepass")
    buf = np.frombuffer(data, dtype=np.uint8)
    # Byte offset of every character (a UTF-8 lead byte is not 10xxxxxx), then the end.
    starts = np.flatnonzero((buf & 0xC0) != 0x80)
    starts = np.append(starts, buf.size)
    total = int(chars.sum())
    doc_of_char = np.repeat(np.arange(len(texts)), chars)
    end_of_doc = np.cumsum(chars)
    rows, cols = [], []
    padded_buf = np.concatenate([buf, np.zeros(4 * hi, dtype=np.uint8)])
    room = end_of_doc[doc_of_char] - np.arange(total)  # characters left in the text
    for n in range(lo, hi + 1):
        first = np.flatnonzero(room >= n)
        if not first.size:
            continue
        begin = starts[first]
        length = starts[first + n] - begin
        # Up to 4 bytes per character: n words hold any n-gram.
        offsets = np.arange(4 * n, dtype=np.int64)
        gathered = padded_buf[begin[:, None] + offsets]
        gathered *= offsets < length[:, None]
        words = gathered.view("<u4")
        rows.append(doc_of_char[first])
        cols.append(_feature(murmur3_32(words, length), n_features))
    if rows:
        row, col = np.concatenate(rows), np.concatenate(cols)
    else:
        row = col = np.zeros(0, dtype=np.int64)
    counts = sp.csr_matrix(
        (np.ones(row.size, dtype=np.float32), (row, col)), shape=(len(texts), n_features)
    )
    counts.sum_duplicates()
    return counts


def char_ngram_counts(
    texts: Sequence[str], ngrams: tuple[int, int], n_features: int
) -> sp.csr_matrix:
    """Counts of each text's lowercased character n-grams, hashed to `n_features` columns."""
    texts = list(texts)
    if not texts:
        return sp.csr_matrix((0, n_features), dtype=np.float32)
    parts = [
        _batch(texts[at : at + BATCH], ngrams, n_features) for at in range(0, len(texts), BATCH)
    ]
    out = sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
    out.sort_indices()
    return out
