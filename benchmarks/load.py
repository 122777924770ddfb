"""Load on the HTTP API: N concurrent clients, each on its own thread, asking for S seconds.

    python benchmarks/load.py --clients 50 --seconds 60 --json benchmarks/results/load_50x60.json

Without ``--url`` it starts ``citegraph serve`` (``--workers`` processes) on a free loopback port over
``--store`` (ingesting ``--corpus`` first when the store is empty) and stops it by PID at the end. With
``--scale-out`` it first starts a throwaway Postgres cluster and a Chroma server and points the store and the
checkpoints at them (``CITEGRAPH_CHECKPOINT_URL``, ``CITEGRAPH_CHROMA_URL``), as a multi-worker deployment
would run. Every client keeps one thread
id; afterwards each thread's history is read back and must hold exactly that client's questions, in order,
once each (no lost or mixed-up threads). Prints and saves
``{"requests", "errors", "rps", "p50_ms", "p95_ms", ...}``. Latency is end to end (the answer's last byte),
retries included.

Clients behave like the openai client: a request whose connection fails (or that gets a 5xx) is retried up to
``--retries`` times with the same ``Idempotency-Key``, so a retry finishes the first try's run (from its
checkpoint) or gets its answer back instead of asking twice. ``--kill-worker-at S`` SIGKILLs one uvicorn
worker S seconds in (uvicorn starts a new one); only requests that fail after all retries count as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, save  # noqa: E402
from citegraph.server.process import ServerProcess, chroma_server, postgres_server  # noqa: E402

QUESTIONS = [
    "Who is Sherlock Holmes?",
    "Where did Watson serve as a surgeon?",
    "What did Holmes find written on the wall?",
    "Who was Jefferson Hope?",
    "What is Baker Street?",
    "Who is Lestrade?",
    "What did the ring prove?",
    "Why did Drebber come to London?",
]


def ensure_store(store: Path, corpus: list[Path]) -> None:
    from citegraph.retrieval.store import HybridStore
    from citegraph.settings import Settings

    hybrid = HybridStore(Settings(store_dir=store))
    empty = hybrid.is_empty()
    hybrid.close()
    if empty:
        print(f"ingesting {', '.join(map(str, corpus))} into {store}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "citegraph.cli", "ingest", *map(str, corpus), "--store", str(store)],
            cwd=ROOT,
            check=True,
        )


class Retryable(RuntimeError):
    """The connection failed or the server answered 5xx: worth the same request again."""


async def client_loop(
    index: int,
    http: httpx.AsyncClient,
    run_id: str,
    deadline: float,
    stream: bool,
    timeout: float,
    retries: int,
) -> dict[str, Any]:
    thread_id = f"load-{run_id}-{index}"
    asked: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    mixed = retried = resumed = replayed = 0
    turn = 0
    while time.monotonic() < deadline:
        question = QUESTIONS[(index + turn) % len(QUESTIONS)]
        turn += 1
        body = {
            "model": "citegraph-rag",
            "messages": [{"role": "user", "content": question}],
            "thread_id": thread_id,
            "stream": stream,
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        for attempt in range(retries + 1):
            try:
                final = await ask_once(http, body, headers, stream, timeout)
                break
            except Retryable as error:
                if attempt == retries:
                    errors.append(f"{error}"[:300])
                    final = None
                    break
                retried += 1
                await asyncio.sleep(0.5 * (attempt + 1))
            except Exception as error:  # counted, reported, and the client goes on
                errors.append(f"{type(error).__name__}: {error}"[:300])
                final = None
                break
        if final is None:
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        asked.append(question)
        mixed += final.get("thread_id") != thread_id
        resumed += bool(final.get("resumed"))
        replayed += bool(final.get("replayed"))
    return {
        "thread_id": thread_id,
        "asked": asked,
        "latencies": latencies,
        "errors": errors,
        "mixed": mixed,
        "retried": retried,
        "resumed": resumed,
        "replayed": replayed,
    }


async def ask_once(
    http: httpx.AsyncClient, body: dict, headers: dict[str, str], stream: bool, timeout: float
) -> dict[str, Any]:
    """One try: the final response body (non-streaming) or the last SSE chunk carrying the extras."""
    try:
        if stream:
            final: dict[str, Any] = {}
            async with http.stream(
                "POST", "/v1/chat/completions", json=body, headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _http_error(response)
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        chunk = json.loads(line[6:])
                        if "error" in chunk:
                            raise RuntimeError(chunk["error"]["message"])
                        if chunk.get("thread_id"):
                            final = chunk
            if not final:
                raise Retryable("the stream ended without its final chunk")
            return final
        response = await http.post("/v1/chat/completions", json=body, headers=headers, timeout=timeout)
        if response.status_code != 200:
            raise _http_error(response)
        return response.json()
    except (httpx.TransportError, httpx.RemoteProtocolError) as error:
        raise Retryable(f"{type(error).__name__}: {error}") from error


def _http_error(response: httpx.Response) -> Exception:
    message = f"HTTP {response.status_code}: {response.text[:200]}"
    return Retryable(message) if response.status_code >= 500 else RuntimeError(message)


async def check_thread(http: httpx.AsyncClient, result: dict[str, Any]) -> str | None:
    """None when the thread's history holds exactly this client's questions, in order; else what differs."""
    response = await http.get(f"/api/threads/{result['thread_id']}", timeout=120)
    if response.status_code != 200:
        return None if not result["asked"] else f"{result['thread_id']}: HTTP {response.status_code}"
    history = [turn["question"] for turn in response.json().get("history", [])]
    if history == result["asked"]:
        return None
    asked = result["asked"]
    at = next((i for i, (a, b) in enumerate(zip(asked, history, strict=False)) if a != b), None)
    at = min(len(asked), len(history)) if at is None else at
    return (
        f"{result['thread_id']}: {len(asked)} asked, {len(history)} in history; from turn {at}: "
        f"asked {asked[at : at + 2]}, history {history[at : at + 2]}"
    )


def worker_pids(server_pid: int) -> list[int]:
    """uvicorn's worker processes under the ``citegraph serve`` supervisor (not multiprocessing's helpers)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    workers = []
    for pid in map(int, children):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            workers.append(pid)
    return workers


async def kill_a_worker(server_pid: int, after: float, killed: list[int]) -> None:
    """SIGKILL one busy uvicorn worker ``after`` seconds into the load, as a crash would."""
    await asyncio.sleep(after)
    workers = worker_pids(server_pid)
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        killed.append(workers[0])


async def run_load(
    url: str,
    api_key: str,
    clients: int,
    seconds: float,
    stream: bool,
    timeout: float,
    retries: int = 2,
    kill: tuple[int, float] | None = None,
) -> dict:
    run_id = f"{int(time.time())}-{os.getpid()}"
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    killed: list[int] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:
        started = time.monotonic()
        deadline = started + seconds
        tasks = [client_loop(i, http, run_id, deadline, stream, timeout, retries) for i in range(clients)]
        if kill is not None:
            tasks.append(kill_a_worker(*kill, killed))
        results = [r for r in await asyncio.gather(*tasks) if r is not None]
        elapsed = time.monotonic() - started
        checks = await asyncio.gather(*(check_thread(http, r) for r in results))
    latencies = sorted(ms for r in results for ms in r["latencies"])
    errors = [e for r in results for e in r["errors"]]
    ok = len(latencies)

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, round(p / 100 * (len(latencies) - 1)))], 1)

    return {
        "requests": ok + len(errors),
        "errors": len(errors),
        "rps": round(ok / elapsed, 3),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "clients": clients,
        "seconds": seconds,
        "elapsed_s": round(elapsed, 2),
        "stream": stream,
        "retried": sum(r["retried"] for r in results),
        "resumed": sum(r["resumed"] for r in results),
        "replayed": sum(r["replayed"] for r in results),
        "killed_worker": killed[0] if killed else None,
        "threads_checked": len(checks),
        "threads_mixed_or_lost": sum(c is not None for c in checks) + sum(r["mixed"] for r in results),
        "thread_mismatches": [c for c in checks if c is not None][:5],
        "error_samples": sorted(set(errors))[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--json", type=Path, help="Also save the result here.")
    parser.add_argument("--url", help="An already running server (else one is started here).")
    parser.add_argument("--api-key", default=os.environ.get("CITEGRAPH_API_KEY", ""))
    parser.add_argument(
        "--store", type=Path, help="Store the started server serves (default: a temporary one)."
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        default=[ROOT / "citegraph/demo_corpus/a_study_in_scarlet.txt"],
        help="Ingested when the store is empty.",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the started server.")
    parser.add_argument(
        "--scale-out", action="store_true", help="Start Postgres + a Chroma server and serve from them."
    )
    parser.add_argument("--stream", action="store_true", help="Use SSE streaming requests.")
    parser.add_argument("--timeout", type=float, default=300, help="Per-request timeout (s).")
    parser.add_argument("--retries", type=int, default=2, help="Retries of a failed request (same key).")
    parser.add_argument(
        "--kill-worker-at", type=float, help="SIGKILL a uvicorn worker this many seconds in (--workers >= 2)."
    )
    args = parser.parse_args()
    if args.kill_worker_at is not None and (args.url or args.workers < 2):
        parser.error("--kill-worker-at needs a server started here with --workers 2 or more")

    process = None
    server: dict[str, Any] = {"url": args.url}
    with tempfile.TemporaryDirectory(prefix="citegraph-load-") as scratch, contextlib.ExitStack() as servers:
        if args.scale_out and not args.url:
            os.environ["CITEGRAPH_CHECKPOINT_URL"] = servers.enter_context(postgres_server())
            chroma_url = servers.enter_context(chroma_server(Path(scratch) / "chroma"))
            os.environ["CITEGRAPH_CHROMA_URL"] = chroma_url
        if not args.url:
            store = args.store or Path(scratch) / "store"
            ensure_store(store, args.corpus)
            args.api_key = args.api_key or "load-benchmark-key"
            process = ServerProcess(store, Path(scratch) / "server.log", args.api_key, workers=args.workers)
            try:
                process.wait_ready(timeout=300)
            except RuntimeError as error:
                raise SystemExit(str(error)) from None
            server = {
                "url": process.url,
                "workers": args.workers,
                "store": str(store),
                "pid": process.pid,
                "scale_out": args.scale_out,
            }
        try:
            result = asyncio.run(
                run_load(
                    server["url"],
                    args.api_key,
                    args.clients,
                    args.seconds,
                    args.stream,
                    args.timeout,
                    args.retries,
                    None if args.kill_worker_at is None else (process.pid, args.kill_worker_at),
                )
            )
        finally:
            if process is not None:
                process.stop()
    result |= {"server": server, "machine": machine()}
    save(result, args.json)


if __name__ == "__main__":
    main()
