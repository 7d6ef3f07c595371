"""A disk cache of embeddings keyed by encoder, role and text, for repeated evaluations."""

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """Vectors stored in one .npz file per encoder and role."""

    def __init__(self, directory: Path, encoder_name: str, role: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_name)
        self.path = Path(directory) / f"{safe}.{role}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            data = np.load(self.path)
            self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def encode(
        self,
        texts: Sequence[str],
        fn: Callable[[Sequence[str]], np.ndarray],
        batch: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors of `texts`, encoding (in batches) only those not cached yet."""
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        by_key = dict(zip(keys, texts, strict=True))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vectors = fn([by_key[k] for k in chunk])
            self._vectors.update(zip(chunk, vectors, strict=True))
            if progress:
                progress(len(chunk))
        if missing:
            self.save()
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        np.savez(self.path, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
