"""`ai.classify` (route items by category), `ai.extract` (text → an object matching a JSON
schema, validated, with one repair) and `ai.summarize` (map-reduce over long text)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, Final

from pydantic import Field, ValidationError, field_validator

from wirework.ai.llm import ChatRequest, Message, Usage
from wirework.ai.models import ModelType
from wirework.engine.errors import NodeError
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Node, NodeContext, NodeParameters, OutputName
from wirework.nodes.ai.common import (
    CATEGORY,
    AIRun,
    MaxTokens,
    ModelRef,
    Temperature,
    parse_json,
    text_of,
    usage_dict,
)
from wirework.security.json_schema import check_schema, first_error

OTHER: Final = "other"
MAX_CATEGORIES: Final = 50
CHARS_PER_TOKEN: Final = 4
"""ai.summarize measures text in tokens as characters / 4 (about right for English with any tokenizer)."""


# ----------------------------------------------------------------------------- classify


class CategoryParameters(NodeParameters):
    name: OutputName = Field(description="The category, and the output its items go to.")
    description: str = Field("", max_length=2000, description="What belongs in it (the model reads this).")


class ClassifyParameters(NodeParameters):
    text: str | None = Field(None, description="What to classify; empty: the item's `text`.")
    categories: list[CategoryParameters] = Field(min_length=1, max_length=MAX_CATEGORIES)
    other: bool = Field(
        True,
        description=(
            "Add an `other` output for items that fit no category (and answers that are none of them); "
            "off: such an item fails."
        ),
    )
    instructions: str | None = Field(None, max_length=10_000, description="More guidance for the model.")
    field: str = Field(
        "category", min_length=1, max_length=100, description="Where the category goes on the item."
    )
    model: str | None = ModelRef
    temperature: float | None = Field(0, ge=0, le=2)

    @field_validator("categories")
    @classmethod
    def _distinct(cls, value: list[CategoryParameters]) -> list[CategoryParameters]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError("category names must differ")
        return value


class AIClassify(Node):
    type = "ai.classify"
    display_name = "AI classify"
    description = (
        "Sorts each item into one of your categories with an LLM (a JSON answer): one output per "
        "category, plus `other`; the item gets the category in `category`."
    )
    category = CATEGORY
    icon = "tags"
    outputs = ()
    dynamic_outputs = True
    Parameters = ClassifyParameters

    @classmethod
    def output_names(cls, parameters: Any) -> list[str]:
        try:
            params = ClassifyParameters.model_validate(parameters, context={"static": True})
        except ValidationError:
            return []
        names = [c.name for c in params.categories]
        if params.other and OTHER not in names:
            names.append(OTHER)
        return names

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        run = AIRun(ctx)
        outputs: NodeOutputs = {name: [] for name in self.output_names(ctx.parameters)}
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(ClassifyParameters, index)
                names = [c.name for c in params.categories]
                choices = [*names, *([OTHER] if params.other and OTHER not in names else [])]
                session_id = run.session_id(index)
                model = await run.model(params.model, ModelType.llm, session_id)
                listing = "\n".join(
                    f"- {c.name}{': ' + c.description if c.description else ''}" for c in params.categories
                )
                system = (
                    "Classify the user's text into exactly one of these categories:\n"
                    f"{listing}\n"
                    + (f"- {OTHER}: none of the above\n" if OTHER in choices and OTHER not in names else "")
                    + (f"\n{params.instructions}\n" if params.instructions else "")
                    + '\nAnswer with JSON only: {"category": "<one of the names above>"}.'
                )
                result = await run.chat(
                    model,
                    ChatRequest(
                        messages=[
                            Message("system", system),
                            Message("user", text_of(ctx, index, params.text, "text")),
                        ],
                        temperature=params.temperature,
                        json_schema={
                            "type": "object",
                            "properties": {"category": {"type": "string", "enum": choices}},
                            "required": ["category"],
                            "additionalProperties": False,
                        },
                    ),
                    session_id,
                )
                chosen = _category(result.text, choices)
                if chosen is None:
                    if OTHER not in choices:
                        raise NodeError(
                            f"the model answered {result.text[:200]!r}, which is none of the categories "
                            f"({', '.join(names)}); turn on `other` to route such items there"
                        )
                    chosen = OTHER
                outputs[chosen].append({**item, params.field: chosen})
        return outputs


def _category(answer: str, choices: list[str]) -> str | None:
    try:
        value = parse_json(answer)
        name = value.get("category") if isinstance(value, dict) else value
    except ValueError:
        name = answer.strip().strip('"')
    if not isinstance(name, str):
        return None
    if name in choices:
        return name
    folded = {c.casefold(): c for c in choices}
    return folded.get(name.strip().casefold())


# ----------------------------------------------------------------------------- extract


class ExtractParameters(NodeParameters):
    text: str | None = Field(None, description="What to read; empty: the item's `text`.")
    schema_: dict[str, Any] = Field(
        alias="schema",
        description=(
            'JSON schema of the object to fill, e.g. {"type": "object", '
            '"properties": {"name": {"type": "string"}}}.'
        ),
    )
    instructions: str | None = Field(None, max_length=10_000, description="More guidance for the model.")
    field: str = Field("data", min_length=1, max_length=100, description="Where the object goes on the item.")
    model: str | None = ModelRef
    temperature: float | None = Field(0, ge=0, le=2)
    max_tokens: int | None = MaxTokens

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('the schema describes an object ({"type": "object", "properties": ...})')
        if len(json.dumps(value)) > 32_000:
            raise ValueError("the schema is at most 32,000 characters")
        problems = check_schema(value)
        if problems:
            raise ValueError(problems[0])
        return value


def schema_problem(schema: dict[str, Any], text: str) -> tuple[Any, str | None]:
    """(the parsed answer, why it does not fit the schema or None)."""
    try:
        value = parse_json(text)
    except ValueError:
        return None, "the answer is not JSON"
    problem = first_error(schema, value)
    if problem is None:
        return value, None
    where, why = problem
    return value, f"{f'at {where}: ' if where else ''}{why}"


class AIExtract(Node):
    type = "ai.extract"
    display_name = "AI extract"
    description = (
        "Reads text into an object matching your JSON schema (the model is asked for that JSON, the "
        "answer is validated; a wrong answer is sent back once with what is wrong). Output: the item "
        "with the object in `data`."
    )
    category = CATEGORY
    icon = "braces"
    Parameters = ExtractParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        run = AIRun(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(ExtractParameters, index)
                session_id = run.session_id(index)
                model = await run.model(params.model, ModelType.llm, session_id)
                system = (
                    "Extract the information from the user's text as JSON matching this JSON schema:\n"
                    f"{json.dumps(params.schema_)}\n"
                    + (f"{params.instructions}\n" if params.instructions else "")
                    + "Answer with the JSON object only. Use null for what the text does not say."
                )
                messages = [
                    Message("system", system),
                    Message("user", text_of(ctx, index, params.text, "text")),
                ]
                usage = Usage()
                problem: str | None = None
                for attempt in (1, 2):
                    result = await run.chat(
                        model,
                        ChatRequest(
                            messages=messages,
                            temperature=params.temperature,
                            max_tokens=params.max_tokens,
                            json_schema=params.schema_,
                        ),
                        session_id,
                    )
                    usage = usage + result.usage
                    value, problem = schema_problem(params.schema_, result.text)
                    if problem is None:
                        out.append(
                            {**item, params.field: value, "usage": usage_dict(usage), "attempts": attempt}
                        )
                        break
                    messages = [
                        *messages,
                        Message("assistant", result.text),
                        Message(
                            "user",
                            f"That answer does not match the schema: {problem}. "
                            "Answer again with only the corrected JSON object.",
                        ),
                    ]
                else:
                    raise NodeError(
                        f"the model's answer did not match the schema, also after one repair: {problem}"
                    )
        return {"main": out}


# ----------------------------------------------------------------------------- summarize


class SummarizeParameters(NodeParameters):
    text: str | None = Field(None, description="What to summarize; empty: the item's `text`.")
    instructions: str = Field(
        "Summarize the text in a few sentences, keeping names, numbers and decisions.",
        min_length=1,
        max_length=10_000,
    )
    chunk_tokens: int = Field(
        3000,
        ge=200,
        le=100_000,
        description=(
            "Text longer than this (in tokens, counted as characters / 4) is cut into pieces summarized "
            "one by one, then the summaries are summarized together."
        ),
    )
    max_pieces: int = Field(50, ge=1, le=500, description="Longer text is an error (bounds the calls made).")
    field: str = Field("summary", min_length=1, max_length=100)
    model: str | None = ModelRef
    temperature: float | None = Temperature
    max_tokens: int | None = MaxTokens


class TooManyPieces(ValueError):
    """The text is cut into more pieces than allowed (the split stopped there)."""


_SPACE = re.compile(r"\s*")
THREAD_CHARS: Final = 1_000_000
"""Text longer than this is split in a worker thread, off the event loop."""


def split_text(text: str, budget_chars: int, max_pieces: int | None = None) -> list[str]:
    """Pieces of at most `budget_chars`, cut at a paragraph, line, sentence or word end when one
    is in the last fifth of the piece. Linear in the text: it moves an index (no copies of the
    rest), and stops with TooManyPieces as soon as there would be more than `max_pieces`."""
    pieces: list[str] = []
    text = text.strip()
    start, end = 0, len(text)
    while end - start > budget_chars:
        if max_pieces is not None and len(pieces) >= max_pieces:
            raise TooManyPieces(f"more than {max_pieces} pieces")
        limit = start + budget_chars
        cut = limit
        for mark in ("\n\n", "\n", ". ", " "):
            at = text.rfind(mark, start, limit)
            if at >= 0 and at - start >= budget_chars * 4 // 5:
                cut = at + len(mark)
                break
        pieces.append(text[start:cut].strip())
        start = _SPACE.match(text, cut).end()  # type: ignore[union-attr]  # \s* always matches
    if start < end:
        if max_pieces is not None and len(pieces) >= max_pieces:
            raise TooManyPieces(f"more than {max_pieces} pieces")
        pieces.append(text[start:])
    return pieces


class AISummarize(Node):
    type = "ai.summarize"
    display_name = "AI summarize"
    description = (
        "Summarizes text with an LLM; long text is cut into pieces by a token budget, each piece "
        "summarized, then the summaries together (map, then reduce). Output: the item with `summary`."
    )
    category = CATEGORY
    icon = "align-left"
    Parameters = SummarizeParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        run = AIRun(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(SummarizeParameters, index)
                session_id = run.session_id(index)
                model = await run.model(params.model, ModelType.llm, session_id)
                budget = params.chunk_tokens * CHARS_PER_TOKEN
                text = text_of(ctx, index, params.text, "text")
                try:
                    # Bounded by max_pieces (it stops there); a long text is split off the loop.
                    if len(text) > THREAD_CHARS:
                        pieces = await asyncio.to_thread(split_text, text, budget, params.max_pieces)
                    else:
                        pieces = split_text(text, budget, params.max_pieces)
                except TooManyPieces:
                    raise NodeError(
                        f"the text ({len(text):,} characters) is more than {params.max_pieces} pieces of "
                        f"{params.chunk_tokens} tokens; at most {params.max_pieces} (max_pieces) are "
                        "summarized"
                    ) from None
                if not pieces:
                    raise NodeError("nothing to summarize: the text is empty")
                summary, calls, usage = await _map_reduce(run, model, params, pieces, session_id)
                out.append(
                    {
                        **item,
                        params.field: summary,
                        "pieces": len(pieces),
                        "calls": calls,
                        "usage": usage_dict(usage),
                    }
                )
        return {"main": out}


async def _map_reduce(
    run: AIRun, model: Any, params: SummarizeParameters, pieces: list[str], session_id: uuid.UUID | None
) -> tuple[str, int, Usage]:
    """Summarize each piece, then the summaries (again while they exceed the budget); bounded."""
    usage = Usage()
    calls = 0
    budget = params.chunk_tokens * CHARS_PER_TOKEN

    async def summarize(text: str, instructions: str) -> str:
        nonlocal usage, calls
        calls += 1
        result = await run.chat(
            model,
            ChatRequest(
                messages=[Message("system", instructions), Message("user", text)],
                temperature=params.temperature,
                max_tokens=params.max_tokens,
            ),
            session_id,
        )
        usage = usage + result.usage
        return result.text.strip()

    if len(pieces) == 1:
        return await summarize(pieces[0], params.instructions), calls, usage
    level = [await summarize(piece, params.instructions) for piece in pieces]
    rounds = 0
    while len(level) > 1:  # reduce: the summaries, joined into pieces within the budget
        rounds += 1
        if rounds > 5:
            raise NodeError("the summaries did not get shorter; raise chunk_tokens")
        level = [
            await summarize(
                part, "These are summaries of consecutive parts of one text. " + params.instructions
            )
            for part in split_text("\n\n".join(level), budget)
        ]
    return level[0], calls, usage
