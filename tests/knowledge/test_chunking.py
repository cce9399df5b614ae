"""Chunking: sizes in local-model tokens, overlap, full coverage, parents, boundaries, unicode."""

from __future__ import annotations

import itertools
import random

import pytest

from wirework.ai import local_embedding
from wirework.ai.local_embedding import LocalModel
from wirework.errors import ValidationFailed
from wirework.knowledge.chunking import ChunkPlan, Piece, chunk_text


@pytest.fixture(scope="module")
def model() -> LocalModel:
    return local_embedding.model()


def prose(paragraphs: int, seed: int = 7) -> str:
    """Paragraphs of sentences of ordinary words (and a few long ones that split into word pieces)."""
    rng = random.Random(seed)
    words = [
        "the",
        "invoice",
        "customer",
        "refund",
        "warehouse",
        "shipment",
        "delayed",
        "arrives",
        "tomorrow",
        "morning",
        "policy",
        "unaffable",
        "reconciliation",
        "quarterly",
        "lorry",
        "pallet",
        "aisle",
        "contract",
        "renewal",
        "signed",
    ]
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 5)):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 18)))
            sentences.append(sentence.capitalize() + rng.choice([".", ".", "!", "?"]))
        out.append(" ".join(sentences))
    return "\n\n".join(out)


def spans_of(text: str, pieces: list[Piece]) -> list[tuple[int, int]]:
    """Where each piece lies in `text`: every piece is the slice its start and end say."""
    for piece in pieces:
        assert text[piece.start : piece.end] == piece.text
    return [(piece.start, piece.end) for piece in pieces]


def assert_covers_every_non_blank_character(text: str, spans: list[tuple[int, int]]) -> None:
    covered = [False] * len(text)
    for start, end in spans:
        covered[start:end] = [True] * (end - start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert missing == [], f"not in any chunk: {[text[i] for i in missing[:10]]}"


def test_chunks_respect_the_size_and_cover_the_text(model: LocalModel) -> None:
    text = prose(60)
    plan = chunk_text(text, size=64, overlap=0)
    assert plan.parents == [] and len(plan.chunks) > 10
    assert [c.position for c in plan.chunks] == list(range(len(plan.chunks)))
    for chunk in plan.chunks:
        assert chunk.parent is None
        assert 0 < chunk.token_count <= 64
        assert model.count_tokens(chunk.text) == chunk.token_count
        assert chunk.text == chunk.text.strip()
    spans = spans_of(text, plan.chunks)
    assert_covers_every_non_blank_character(text, spans)
    # Without overlap, the chunks follow each other and the tokens add up to the text's.
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert sum(c.token_count for c in plan.chunks) == model.count_tokens(text)


def test_consecutive_chunks_share_the_overlap(model: LocalModel) -> None:
    text = prose(40, seed=3)
    overlap = 12
    plan = chunk_text(text, size=48, overlap=overlap)
    spans = spans_of(text, plan.chunks)
    assert_covers_every_non_blank_character(text, spans)
    tokens = model.encode_offsets(text)
    for (start_a, end_a), (start_b, _) in itertools.pairwise(spans):
        assert start_a < start_b < end_a
        shared = [t for t in tokens if start_b <= t[0] and t[1] <= end_a]
        assert len(shared) >= overlap
    assert all(c.token_count <= 48 for c in plan.chunks)


def test_breaks_at_paragraphs_then_sentences(model: LocalModel) -> None:
    paragraphs = [f"Paragraph {i} says one short thing about topic {i}." for i in range(30)]
    text = "\n\n".join(paragraphs)
    plan = chunk_text(text, size=40, overlap=0)
    assert len(plan.chunks) > 3
    for chunk in plan.chunks:  # whole paragraphs only
        assert all(part in paragraphs for part in chunk.text.split("\n\n")), chunk.text
    one_paragraph = " ".join(f"Sentence number {i} ends here." for i in range(40))
    for chunk in chunk_text(one_paragraph, size=32, overlap=0).chunks:
        assert chunk.text.endswith("here."), chunk.text
        assert chunk.text.startswith("Sentence number")


def test_parents_contain_their_chunks(model: LocalModel) -> None:
    text = prose(80, seed=11)
    plan = chunk_text(text, size=40, overlap=8, parent_size=200)
    assert len(plan.parents) > 3
    parent_spans = spans_of(text, plan.parents)
    assert_covers_every_non_blank_character(text, parent_spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(parent_spans))  # no overlap
    assert all(p.token_count <= 200 and p.parent is None for p in plan.parents)
    assert [p.position for p in plan.parents] == list(range(len(plan.parents)))
    assert {c.parent for c in plan.chunks} == set(range(len(plan.parents)))
    chunk_spans = spans_of(text, plan.chunks)
    assert_covers_every_non_blank_character(text, chunk_spans)
    for chunk, (start, end) in zip(plan.chunks, chunk_spans, strict=True):
        assert chunk.parent is not None
        parent_start, parent_end = parent_spans[chunk.parent]
        assert parent_start <= start and end <= parent_end
        assert chunk.token_count <= 40
    assert [c.position for c in plan.chunks] == list(range(len(plan.chunks)))
    assert [c.parent for c in plan.chunks] == sorted(c.parent for c in plan.chunks)  # type: ignore[type-var]


def test_unicode_text(model: LocalModel) -> None:
    text = (
        "東京は日本の首都です。大阪は第二の都市です\uff01京都には寺が多い\uff1f" * 6
        + "\n\nNaïve façade — déjà vu 🚀🚀 emoji; Ελληνικά κείμενα; русский текст.\n"
        + "e\u0301 combining \u200b zero-width \x07 bell\n\n"
        + "مرحبا بالعالم " * 10
    )
    plan = chunk_text(text, size=20, overlap=4, parent_size=60)
    spans = spans_of(text, plan.chunks)
    assert_covers_every_non_blank_character(text, spans)
    assert all(c.token_count <= 20 for c in plan.chunks)
    assert any(c.text.endswith(("。", "\uff01")) for c in plan.chunks)  # cut at sentence ends


def test_a_word_longer_than_a_chunk_is_cut(model: LocalModel) -> None:
    # The tokenizer reads a word of over 100 characters as one [UNK] token; chunks stay bounded.
    blob = "x1y2" * 1000
    assert model.count_tokens(blob) == 1
    text = f"start https://example.com/{blob} end"
    plan = chunk_text(text, size=32, overlap=4)
    assert len(plan.chunks) > 3
    assert all(c.token_count <= 32 and len(c.text) <= 32 * 16 for c in plan.chunks)
    assert_covers_every_non_blank_character(text, spans_of(text, plan.chunks))
    words = " ".join(f"w{i}" * 30 for i in range(50))  # long words (< 100 characters) stay whole
    for chunk in chunk_text(words, size=64, overlap=0).chunks:
        assert chunk.token_count <= 64 and model.count_tokens(chunk.text) == chunk.token_count


def test_deterministic_and_empty(model: LocalModel) -> None:
    text = prose(20, seed=5)
    assert chunk_text(text, size=50, overlap=10, parent_size=150) == chunk_text(
        text, size=50, overlap=10, parent_size=150
    )
    assert chunk_text("  \n\n\t ", size=50, overlap=0) == ChunkPlan(parents=[], chunks=[])
    short = chunk_text("  Just one line.  ", size=50, overlap=10, parent_size=100)
    assert [p.text for p in short.parents] == ["Just one line."]
    assert [(c.text, c.parent, c.token_count) for c in short.chunks] == [("Just one line.", 0, 4)]


@pytest.mark.parametrize(
    ("size", "overlap", "parent_size", "message"),
    [
        (15, 0, None, "chunk size must be between 16 and 2048 tokens, not 15"),
        (2049, 0, None, "chunk size must be between 16 and 2048 tokens, not 2049"),
        (64, 64, None, "chunk overlap must be at least 0 and less than the chunk size (64), not 64"),
        (64, -1, None, "chunk overlap must be at least 0 and less than the chunk size (64), not -1"),
        (64, 8, 64, "parent chunk size must be larger than the chunk size (64)"),
    ],
)
def test_sizes_are_validated(size: int, overlap: int, parent_size: int | None, message: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        chunk_text("Some text.", size=size, overlap=overlap, parent_size=parent_size)
    assert raised.value.detail.startswith(message)


def test_too_many_chunks_is_refused(model: LocalModel, monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.knowledge import chunking

    monkeypatch.setattr(chunking, "MAX_CHUNKS", 5)
    with pytest.raises(ValidationFailed) as raised:
        chunk_text(prose(20), size=16, overlap=15)
    assert "more than 5 chunks of 16 tokens with an overlap of 15" in raised.value.detail
