"""Local embedding benchmark (one JSON line): all-MiniLM-L6-v2 as Wirework runs it (numpy, float32).

Prints the import and load time of the model and the process's RSS after loading it, the
throughput of embedding full-window chunks (254 word pieces + [CLS]/[SEP] = 256, in batches of 32),
(per second of wall time and per second of CPU time, which a busy machine does not
change), the p50/p99 time to embed one short query, and how fast `chunk_text` cuts a long text (256-token
chunks, overlap 32, parents of 1,024). BENCH_CHUNKS (256) sets how many chunks are embedded.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHUNKS = int(os.environ.get("BENCH_CHUNKS", "256"))
QUERIES = 100
VOCABULARY = (
    "invoice customer refund warehouse shipment delayed arrives tomorrow policy contract renewal "
    "signed quarterly report revenue margin forecast support ticket escalated resolved server "
    "database migration backup restore latency throughput deployment rollback incident"
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def words(rng: random.Random, n: int) -> str:
    vocabulary = VOCABULARY.split()
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def main() -> None:
    rss_start = rss_mb()
    started = time.perf_counter()
    from wirework.ai import local_embedding
    from wirework.knowledge.chunking import chunk_text

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    model = local_embedding.model()
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()

    rng = random.Random(1)
    chunks = []
    for _ in range(CHUNKS):
        text = words(rng, 400)
        spans = model.encode_offsets(text)
        chunks.append(text[: spans[local_embedding.MAX_TEXT_TOKENS - 1][1]])
    model.embed(chunks[:32])  # warm up BLAS
    started, cpu_started = time.perf_counter(), time.process_time()
    model.embed(chunks)
    embed_s = time.perf_counter() - started
    embed_cpu_s = time.process_time() - cpu_started
    rss_after_embed = rss_mb()

    queries = [words(rng, rng.randint(5, 15)) + "?" for _ in range(QUERIES)]
    latencies = []
    for query in queries:
        started = time.perf_counter()
        model.embed([query])
        latencies.append(time.perf_counter() - started)
    latencies.sort()

    document = "\n\n".join(words(rng, rng.randint(20, 120)) + "." for _ in range(2000))
    started = time.perf_counter()
    plan = chunk_text(document, size=256, overlap=32, parent_size=1024)
    chunking_s = time.perf_counter() - started

    print(
        json.dumps(
            {
                "bench": "embedding",
                "model": local_embedding.MODEL_NAME,
                "cpus": os.cpu_count(),
                "import_s": round(import_s, 3),
                "load_s": round(load_s, 3),
                "rss_before_mb": round(rss_start, 1),
                "rss_loaded_mb": round(rss_loaded, 1),
                "rss_after_embedding_mb": round(rss_after_embed, 1),
                "chunk_tokens": local_embedding.MAX_SEQUENCE,
                "batch": local_embedding.BATCH_SIZE,
                "chunks_per_s": round(CHUNKS / embed_s, 1),
                "chunks_per_cpu_s": round(CHUNKS / embed_cpu_s, 1),
                "load_avg_1m": os.getloadavg()[0],
                "query_ms_p50": round(statistics.median(latencies) * 1000, 2),
                "query_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
                "chunking_chars_per_s": round(len(document) / chunking_s),
                "chunking_chunks": len(plan.chunks),
            }
        )
    )


if __name__ == "__main__":
    main()
