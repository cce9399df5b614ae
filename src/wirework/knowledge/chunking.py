"""Chunking for knowledge bases: a document's text cut into pieces of at most N tokens.

Sizes count word pieces of the local model's tokenizer (`ai.local_embedding`), so a chunk of at
most `local_embedding.MAX_TEXT_TOKENS` tokens is embedded whole by the local model. Every piece is
a slice of the original text, cut between tokens, preferring (in this order) a blank line, a line
end, a sentence end, then a word boundary, in the last half of the allowed length. Consecutive
chunks share at least `overlap` tokens. With `parent_size`, the text is first cut into parents of
that size and every chunk lies within one parent and names it. Every non-blank character of the
text is in some chunk, and each piece says where it lies (`start`, `end`). A word of more than 100
characters (one [UNK] token to the model) counts a token per 16 characters, so pieces stay bounded.
Pure and deterministic; CPU-bound for long texts (async callers run it in a thread).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from wirework.errors import ValidationFailed

MIN_SIZE = 16
MAX_SIZE = 2048
MAX_PARENT_SIZE = 16384
MAX_CHUNKS = 50_000  # per document; a text that makes more is refused with what to change
# The tokenizer reads a word of more than 100 characters (a URL, a base64 blob) as one [UNK] token;
# for cutting, such a word counts one token per LONG_WORD_PIECE characters, so no chunk can grow
# past about size x LONG_WORD_PIECE characters.
LONG_WORD = 100
LONG_WORD_PIECE = 16

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_SENTENCE_ENDS = {".", "!", "?", "…"}
_CJK_SENTENCE_ENDS = {"\u3002", "\uff01", "\uff1f"}  # ideographic full stop, fullwidth ! and ?


@dataclass(frozen=True)
class Piece:
    text: str
    token_count: int
    position: int  # order among its kind in the document, from 0
    parent: int | None  # a chunk's index into ChunkPlan.parents; None without parents
    start: int = 0  # where `text` lies in the chunked text: text == source[start:end]
    end: int = 0


@dataclass(frozen=True)
class ChunkPlan:
    parents: list[Piece]  # empty without parent_size
    chunks: list[Piece]  # the pieces to embed and search


def validate_sizes(size: int, overlap: int, parent_size: int | None) -> None:
    """Raise ValidationFailed unless 16 <= size <= 2048, 0 <= overlap < size, parent_size > size."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValidationFailed(f"chunk size must be between {MIN_SIZE} and {MAX_SIZE} tokens, not {size}")
    if not 0 <= overlap < size:
        raise ValidationFailed(
            f"chunk overlap must be at least 0 and less than the chunk size ({size}), not {overlap}"
        )
    if parent_size is not None and not size < parent_size <= MAX_PARENT_SIZE:
        raise ValidationFailed(
            f"parent chunk size must be larger than the chunk size ({size}) and at most {MAX_PARENT_SIZE} "
            f"tokens, not {parent_size}"
        )


def chunk_text(
    text: str,
    *,
    size: int,
    overlap: int,
    parent_size: int | None = None,
    offsets: Callable[[str], list[tuple[int, int]]] | None = None,
) -> ChunkPlan:
    """Cut `text` into chunks of at most `size` tokens (and parents of `parent_size`).

    `offsets` gives the character span of each token; by default the local model's tokenizer
    (which loads without the model's weights).
    """
    validate_sizes(size, overlap, parent_size)
    if offsets is None:
        from wirework.ai import local_embedding

        offsets = local_embedding.tokenizer().encode_offsets
    spans = _split_long_words(offsets(text))
    if not spans:
        return ChunkPlan(parents=[], chunks=[])
    strength = _break_strengths(text, spans)
    cutter = _Cutter(text, spans, strength)
    if parent_size is None:
        chunks = [
            cutter.piece(a, b, position=i, parent=None)
            for i, (a, b) in enumerate(cutter.cut(0, len(spans), size, overlap, MAX_CHUNKS))
        ]
        return ChunkPlan(parents=[], chunks=chunks)
    parents: list[Piece] = []
    chunks = []
    for p, (lo, hi) in enumerate(cutter.cut(0, len(spans), parent_size, 0, MAX_CHUNKS)):
        parents.append(cutter.piece(lo, hi, position=p, parent=None))
        for a, b in cutter.cut(lo, hi, size, overlap, MAX_CHUNKS - len(chunks)):
            chunks.append(cutter.piece(a, b, position=len(chunks), parent=p))
    return ChunkPlan(parents=parents, chunks=chunks)


def _split_long_words(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if all(end - start <= LONG_WORD for start, end in spans):
        return spans
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if end - start <= LONG_WORD:
            out.append((start, end))
        else:
            out.extend((i, min(i + LONG_WORD_PIECE, end)) for i in range(start, end, LONG_WORD_PIECE))
    return out


def _break_strengths(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """How good a cut before token i is: 4 blank line, 3 line end, 2 sentence end, 1 between
    words or at punctuation, 0 inside a word. Index 0 and len(spans) are the text's ends."""
    n = len(spans)
    strength = [4] * (n + 1)
    for i in range(1, n):
        end, start = spans[i - 1][1], spans[i][0]
        if start > end:
            gap = text[end:start]
            if "\n" in gap:
                strength[i] = 4 if _BLANK_LINE.search(gap) else 3
                continue
            previous = text[spans[i - 1][0] : end]
            strength[i] = 2 if previous in _SENTENCE_ENDS or previous in _CJK_SENTENCE_ENDS else 1
            continue
        previous = text[spans[i - 1][0] : end]
        if previous in _CJK_SENTENCE_ENDS:
            strength[i] = 2
        elif end > 0 and start < len(text) and text[end - 1].isalnum() and text[start].isalnum():
            strength[i] = 0
        else:
            strength[i] = 1
    return strength


class _Cutter:
    def __init__(self, text: str, spans: list[tuple[int, int]], strength: list[int]) -> None:
        self.text, self.spans, self.strength = text, spans, strength

    def cut(self, lo: int, hi: int, size: int, overlap: int, budget: int) -> list[tuple[int, int]]:
        """Token ranges [a, b) covering [lo, hi), each at most `size` long, consecutive ones
        sharing at least `overlap` tokens (unless a range reaches `hi`)."""
        strength = self.strength
        ranges: list[tuple[int, int]] = []
        start = lo
        while True:
            if len(ranges) >= budget:
                raise ValidationFailed(
                    f"the text makes more than {MAX_CHUNKS:,} chunks of {size} tokens with an overlap of "
                    f"{overlap}: use larger chunks, a smaller overlap, or split the document"
                )
            limit = min(start + size, hi)
            if limit == hi:
                ranges.append((start, hi))
                return ranges
            # The strongest break in the last half (never so early that the overlap stalls); the
            # latest of equally strong ones.
            earliest = max(start + size // 2, start + overlap + 1)
            end, best = limit, strength[limit]
            for i in range(limit - 1, earliest - 1, -1):
                if best == 4:
                    break
                if strength[i] > best:
                    end, best = i, strength[i]
            ranges.append((start, end))
            if overlap == 0:
                start = end
                continue
            following = end - overlap
            while following > start + 1 and strength[following] == 0:  # begin at a word's start
                following -= 1
            start = following if strength[following] > 0 else end - overlap

    def piece(self, a: int, b: int, *, position: int, parent: int | None) -> Piece:
        """Tokens [a, b) as a piece of text: from the first token's start (the text's first
        non-blank character for the first token) to the last token's end, plus any non-blank
        characters the tokenizer skipped before the next token."""
        text, spans = self.text, self.spans
        start = spans[a][0]
        if a == 0:
            start = len(text) - len(text.lstrip())
        end = spans[b - 1][1]
        stop = spans[b][0] if b < len(spans) else len(text)
        if stop > end:
            end += len(text[end:stop].rstrip())
        return Piece(
            text=text[start:end], token_count=b - a, position=position, parent=parent, start=start, end=end
        )
