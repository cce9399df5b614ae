"""LLM client benchmark (one JSON line): Wirework's own OpenAI and Anthropic clients (ai.providers,
plain httpx through the SSRF guard) against the local fake server of the tests, which answers at
once, so the figures are the client's cost: a plain call, a streamed answer of BENCH_ANSWER_CHARS
(4,000) characters assembled from its events, and a batch of 256 embeddings of 64 numbers.

Prints p50/p99 per call in ms and the streamed events per second, for each protocol.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.llm_server import FakeLLM, fake_llm, text

from wirework.ai import service
from wirework.ai.llm import ChatDone, ChatRequest, Message, ResolvedModel
from wirework.ai.models import ModelProvider, ModelType
from wirework.security.ssrf import SsrfPolicy

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
ANSWER = "word " * (int(os.environ.get("BENCH_ANSWER_CHARS", "4000")) // 5)
POLICY = SsrfPolicy.from_entries(["127.0.0.1"])


def model(llm: FakeLLM, provider: str, type: str = "llm") -> ResolvedModel:
    base = llm.openai_url if provider == "openai" else llm.url
    return ResolvedModel(
        uuid.uuid4(),
        uuid.uuid4(),
        "bench",
        ModelProvider(provider),
        "fake-gpt",
        ModelType(type),
        {},
        base,
        "k",
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


async def main() -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": "ai_clients", "calls": CALLS, "answer_chars": len(ANSWER)}
    async with fake_llm(api_key="k") as llm:
        for provider in ("openai", "anthropic"):
            m = model(llm, provider)
            request = ChatRequest([Message("user", "hello")])
            plain: list[float] = []
            for _ in range(CALLS):
                llm.reply("OK")
                started = time.perf_counter()
                await service.chat(m, request, ssrf=POLICY)
                plain.append(time.perf_counter() - started)
            streams: list[float] = []
            events = 0
            for _ in range(max(CALLS // 10, 5)):
                llm.reply(text(ANSWER))
                started = time.perf_counter()
                async for event in service.stream_chat(m, request, ssrf=POLICY):
                    events += 1
                    if isinstance(event, ChatDone):
                        assert event.result.text == ANSWER
                streams.append(time.perf_counter() - started)
            out[provider] = {
                "plain": percentiles(plain),
                "stream": percentiles(streams),
                "stream_events_per_s": round(events / sum(streams)),
            }
            llm.requests.clear()
        embedder = service.embedder_of(model(llm, "openai", "embedding"), ssrf=POLICY)
        texts = [f"sentence number {i} of the benchmark" for i in range(256)]
        batches: list[float] = []
        for _ in range(20):
            started = time.perf_counter()
            await embedder.embed(texts)
            batches.append(time.perf_counter() - started)
        out["embeddings_256"] = percentiles(batches)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
