"""`seqlab serve` under load: classify throughput and latency with and without dynamic batching,
generation words/s, and the server's memory over 10,000 requests.

Clients run in this process (asyncio + aiohttp, the lighter client: every client CPU-second is
taken from the server on two cores) against a `seqlab serve` subprocess on 127.0.0.1, bounded in
count and time; uvicorn serves with uvloop and httptools (`uvicorn[standard]`, the serve extra).
The server runs with one torch thread (OMP_NUM_THREADS=1) so that it and the clients each have
one of the machine's two cores. Checkpoints come from dry runs (`--dry-run`: full-size models, 2
training batches): speed does not depend on training.

- classify: the IMDB BiGRU of benchmarks/imdb.py's bigru-full (embed 128, hidden 128, max
  pooling, whole reviews), given one test review per request;
  requests/s, p50 and p99 latency at 1, 8 and 32 concurrent clients, for the server with dynamic
  batching (default settings) and with `--max-batch 1` (every request its own forward pass);
  the ratio of the two at each client count is measured in this one run.
- generate: the cpu-lstm WikiText-2 language model, 1 and 8 concurrent streams of 100 words each.
- memory: the batching server's resident set size after 5,000 requests at 32 clients (its
  caches warm) and after 10,000 more.
- model: where the time goes, without HTTP: the classifier's forward passes over 64 reviews one
  by one, in one padded batch, and in the server's length-sorted chunks (`by_length`), timed in
  this process with one torch thread (best of 3).

    python benchmarks/serve.py                 # writes benchmarks/results/serve.json
    python benchmarks/serve.py --quick         # a smoke test: short runs, nothing written
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

from common import machine, save_run

TIMEOUT = aiohttp.ClientTimeout(total=300)
CHECKPOINTS = {
    "imdb-bigru": ["classify", "--data", "imdb", "--model", "gru", "--embed", "128", "--hidden",
                   "128", "--bidirectional", "--pooling", "max", "--max-length", "none",
                   "--dry-run"],
    "wikitext2-lstm": ["lm", "--preset", "cpu-lstm", "--dry-run"],
}  # fmt: skip


def seqlab(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqlab", *args]


def train(work: Path) -> dict[str, Path]:
    """The dry-run checkpoints (trained once per work folder)."""
    paths = {}
    for name, args in CHECKPOINTS.items():
        out = work / name
        if not (out / "best.pt").is_file():
            subprocess.run(seqlab("train", *args, "--out", str(out), "--overwrite"), check=True)
        paths[name] = out / "best.pt"
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`seqlab serve` in a subprocess, up once /health answers."""

    def __init__(self, checkpoint: Path, *options: str) -> None:
        self.port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = seqlab("serve", str(checkpoint), "--port", str(self.port), *options)
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {' '.join(cmd)}")

    def rss_mb(self) -> float:
        """Resident set size of the server process, in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def reviews(n: int = 500) -> list[str]:
    """`n` IMDB test reviews spread over both classes, each at most 10,000 characters."""
    from seqlab.data.imdb import imdb_source, read_imdb_split

    texts, _ = read_imdb_split(imdb_source(), "test")
    return [t[:10_000] for t in texts[:: max(1, len(texts) // n)]]


async def load(url: str, model: str, texts: list[str], clients: int, seconds: float,
               requests: int | None = None) -> dict:  # fmt: skip
    """`clients` concurrent clients each posting one text per request, back to back, for
    `seconds` (or until `requests` in all); requests/s and latency percentiles."""
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop = time.monotonic() + seconds

    async def client(i: int, http: aiohttp.ClientSession) -> None:
        nonlocal errors, sent
        k = i
        while time.monotonic() < stop and (requests is None or sent < requests):
            sent += 1
            body = {"model": model, "texts": [texts[k % len(texts)]]}
            k += clients
            start = time.perf_counter()
            async with http.post(url + "/v1/classify", json=body) as r:
                await r.read()
                errors += r.status != 200
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        wall = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


async def streams(url: str, model: str, count: int, words: int) -> dict:
    """`count` concurrent /v1/generate streams of `words` words; words/s over all of them."""

    async def one(i: int, http: aiohttp.ClientSession) -> int:
        body = {"model": model, "prompt": "the", "max_words": words, "seed": i, "stream": True}
        n = 0
        async with http.post(url + "/v1/generate", json=body) as r:
            async for line in r.content:
                if line.startswith(b"data: {") and b'"word"' in line:
                    n += 1
        return n

    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        began = time.perf_counter()
        counts = await asyncio.gather(*(one(i, http) for i in range(count)))
        wall = time.perf_counter() - began
    return {"streams": count, "words": sum(counts), "words_per_s": sum(counts) / wall}


def model_only(checkpoint: Path, texts: list[str]) -> dict:
    """Seconds to classify 64 reviews alone, in one padded batch and in sorted chunks."""
    import torch

    from seqlab.serve.batching import by_length
    from seqlab.tasks import load

    torch.set_num_threads(1)
    loaded = load(checkpoint)
    task, batch = loaded.task, texts[:64]

    def best(fn) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    return {
        "alone_s": best(lambda: [task.probabilities(loaded, [t]) for t in batch]),
        "padded_s": best(lambda: task.probabilities(loaded, batch)),
        "chunks_s": best(lambda: by_length(lambda p: task.probabilities(loaded, p), batch)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/bench-serve", help="folder for the checkpoints")
    parser.add_argument("--seconds", type=float, default=20, help="per load level")
    parser.add_argument("--quick", action="store_true", help="short smoke test; nothing saved")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    memory_requests = 300 if args.quick else 10_000
    paths = train(Path(args.work))
    texts = reviews()
    levels = (1, 8, 32)
    model = model_only(paths["imdb-bigru"], texts)
    print(f"model only, 64 reviews: {json.dumps(model)}", flush=True)
    classify: dict[str, dict] = {}
    # Both servers run at once (an idle one takes no CPU) and each load level is measured on
    # one right after the other, in alternating order, so drift over the run favours neither.
    servers: dict[str, Server] = {}
    try:
        servers["batched"] = Server(paths["imdb-bigru"], "--name", "imdb")
        servers["single"] = Server(paths["imdb-bigru"], "--name", "imdb", "--max-batch", "1")
        for n, clients in enumerate(levels):
            for mode in ("batched", "single") if n % 2 == 0 else ("single", "batched"):
                url = servers[mode].url
                asyncio.run(load(url, "imdb", texts, clients, 1.0))  # warm-up at this load
                m = asyncio.run(load(url, "imdb", texts, clients, seconds))
                classify[f"{mode}-{clients}"] = m
                print(f"classify {mode:7} {clients:2} clients: {json.dumps(m)}", flush=True)
        # Memory: warm up at the same load first: the allocator's caches grow with the batch
        # shapes the first thousands of requests bring, then stay (seen: 300 MiB after warm-up,
        # 375 after 4,000 requests, 394 after 8,000 and after 20,000).
        server = servers["batched"]
        asyncio.run(load(server.url, "imdb", texts, 32, 3600, memory_requests // 2))
        before = server.rss_mb()
        m = asyncio.run(load(server.url, "imdb", texts, 32, 3600, memory_requests))
        memory = {"rss_before_mb": before, "rss_after_mb": server.rss_mb(), **m}
        print(f"memory: {json.dumps(memory)}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    server = Server(paths["wikitext2-lstm"], "--name", "lm")
    try:
        asyncio.run(streams(server.url, "lm", 1, 10))  # warm-up
        generation = {n: asyncio.run(streams(server.url, "lm", n, 100)) for n in (1, 8)}
    finally:
        server.stop()
    for n, m in generation.items():
        print(f"generate {n} streams: {json.dumps(m)}", flush=True)
    if args.quick:
        return 0

    metrics = {}
    for clients in levels:
        b, s = classify[f"batched-{clients}"], classify[f"single-{clients}"]
        for mode, m in (("batched", b), ("single", s)):
            for key in ("requests_per_s", "p50_ms", "p99_ms"):
                metrics[f"classify_{mode}_{clients}_{key}"] = round(m[key], 2)
            metrics[f"classify_{mode}_{clients}_errors"] = m["errors"]
        metrics[f"ratio_batched_over_single_{clients}"] = round(
            b["requests_per_s"] / s["requests_per_s"], 2
        )
    for n, m in generation.items():
        metrics[f"generate_{n}_streams_words_per_s"] = round(m["words_per_s"], 1)
    metrics["model_64_alone_s"] = round(model["alone_s"], 3)
    metrics["model_64_padded_batch_s"] = round(model["padded_s"], 3)
    metrics["model_64_sorted_chunks_s"] = round(model["chunks_s"], 3)
    metrics["ratio_model_chunks_over_alone"] = round(model["alone_s"] / model["chunks_s"], 2)
    metrics["rss_before_mb"] = round(memory["rss_before_mb"], 1)
    metrics["rss_after_mb"] = round(memory["rss_after_mb"], 1)
    metrics["rss_growth"] = round(memory["rss_after_mb"] / memory["rss_before_mb"] - 1, 4)
    metrics["memory_requests"] = memory["requests"]
    metrics["memory_errors"] = memory["errors"]
    entry = {
        "name": "serve-imdb-bigru-wikitext2-lstm",
        "tags": ["rnn", "serve"],
        "metrics": metrics,
        "command": "python benchmarks/serve.py",
        "date": datetime.date.today().isoformat(),
        "machine": machine(1) + "; the server a subprocess with 1 torch thread, the clients "
        "(asyncio + aiohttp) in the benchmark's process",
        "notes": f"{seconds:g} s per load level, one IMDB test review per classify request",
    }
    print(f"wrote {save_run('serve', entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
