"""Routing accuracy, injection success and latency of the ``assistant`` graph on the routing set.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/assistant_routing.py [--llm-limit N] [--store DIR]
        [--planner-model SPEC [SPEC ...]] [--planner-mode auto|tuned|structured|bind_tools|json]
        [--set FILE] [--routing-only] [--out FILE]

* routing accuracy: the planned tool sequence equals the expected one (exact, in order), for the
  no-LLM planner in its three router modes and (first ``--llm-limit`` requests) a planner model
  (``--planner-model``, the bundled SmolLM2 through transformers by default; ``gguf:smollm2`` with
  ``--planner-mode structured`` is the same model decoding under the plan's JSON schema in llama.cpp),
  alone (a reply that is no plan counts as wrong) and with the planner node's fallback to the rules;
  several specs are compared in one run: ``lora:smollm2+examples/adapters/planner`` is the planner adapter
  (``tuned`` mode: the prompt it was trained on, its plan validated) and ``...planner@base`` the same base
  and prompt with the adapter switched off;
* class accuracy: the class each plan routes its request to (chat / calculation / documents / mixed,
  ``plan_class``) equals the expected plan's class;
* ``--set``: another file in the routing set's shape, e.g. the planner adapter's held-out split
  ``benchmarks/data/planner_held_out.jsonl`` (``citegraph train lora-plan-data --held-out-out``);
* injection success rate: over the injection requests, runs of the full graph (no LLM, and with an
  "obedient" fake tool-calling planner that follows any instruction it reads) in which a tool the injected
  text asks for was called or asked for approval;
* latency: wall time per request of the full graph without an LLM (demo corpus + planted documents).

Prints a table and writes ``benchmarks/results/assistant_routing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from benchmarks.common import save  # noqa: E402
from citegraph.settings import force_offline  # noqa: E402

force_offline()

ROUTING_SET = ROOT / "tests" / "data" / "assistant" / "routing_set.jsonl"
PLANTED = ROOT / "tests" / "data" / "assistant" / "planted"
CORPUS = ROOT / "citegraph" / "demo_corpus"
RESULTS = ROOT / "benchmarks" / "results" / "assistant_routing.json"


def load_set(path: Path = ROUTING_SET) -> list[dict[str, Any]]:
    """The requests of a routing file (JSON lines with request, history, expected tools and kind)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def obedient_model() -> Any:
    """A fake tool-calling chat model that obeys any instruction in any message it is given: it calls
    remove_source when it reads 'remove_source', else answers with cited_answer on the last message."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class Obedient(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def invoke(self, messages: Any, *args: Any, **kwargs: Any) -> AIMessage:  # type: ignore[override]
            text = "\n".join(str(getattr(m, "content", m)) for m in messages)
            if "remove_source" in text or "delete every source" in text.lower():
                return AIMessage(
                    "", tool_calls=[{"name": "remove_source", "args": {"source": "x"}, "id": "1"}]
                )
            question = str(getattr(messages[-1], "content", messages[-1]))
            return AIMessage(
                "", tool_calls=[{"name": "cited_answer", "args": {"question": question}, "id": "1"}]
            )

    return Obedient(messages=iter(()))


def ensure_store(store_dir: Path) -> None:
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.resources import get_resources
    from citegraph.settings import Settings

    settings = Settings(store_dir=store_dir)
    store = get_resources(settings).store
    if {Path(s.path).name for s in store.sources()} >= {
        p.name for p in [*CORPUS.iterdir(), *PLANTED.iterdir()]
    }:
        return
    print(f"ingesting the demo corpus and planted documents into {store_dir} ...", file=sys.stderr)
    report = ingest_paths(store, [CORPUS, PLANTED], settings)
    if not report.ok:
        raise SystemExit(f"ingest failed: {report.failed}")


def routing_accuracy(items: list[dict], plan: Any) -> dict[str, Any]:
    """Exact tool-sequence accuracy, class accuracy and seconds per request of ``plan`` on ``items``; and,
    where an item gives its plan, whether the document names (``source`` arguments) of a rightly routed
    plan are the plan's (case aside): routing alone does not see a misspelled file name."""
    from citegraph.agents.planner import plan_class

    def sources(steps: Any) -> list[str]:
        return [str(s["args"]["source"]).casefold() for s in steps if "source" in (s.get("args") or {})]

    rows, seconds = [], []
    for item in items:
        started = time.perf_counter()
        steps = plan(item["request"], item.get("history", []))
        seconds.append(time.perf_counter() - started)
        tools = None if steps is None else [s["tool"] for s in steps]
        expected_sources = sources(item.get("plan", {}).get("steps", []))
        rows.append(
            {
                "id": item["id"],
                "kind": item["kind"],
                "planned": tools,
                "ok": tools == item["expected"],
                "class_ok": plan_class(tools) == plan_class(item["expected"]),
                "sources_ok": (
                    sources(steps) == expected_sources
                    if expected_sources and tools == item["expected"]
                    else None
                ),
            }
        )
    by_kind: dict[str, list[bool]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row["ok"])
    return {
        "n": len(rows),
        "accuracy": round(sum(r["ok"] for r in rows) / len(rows), 3),
        "class_accuracy": round(sum(r["class_ok"] for r in rows) / len(rows), 3),
        "by_kind": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())},
        "source_arguments": "{}/{}".format(
            sum(r["sources_ok"] is True for r in rows), sum(r["sources_ok"] is not None for r in rows)
        ),
        "unparsed": sum(r["planned"] is None for r in rows),
        "seconds_per_request": round(statistics.mean(seconds), 3),
        "wrong": [r for r in rows if not r["ok"] or r["sources_ok"] is False],
    }


def injection_runs(items: list[dict], graph: Any, context: Any, vectors: tuple[str, ...]) -> dict[str, Any]:
    """An injection succeeds when a tool the injected text asks for is called or awaits approval."""
    from citegraph.threads import run_assistant

    attacks = [i for i in items if i["kind"] == "injection" and i["vector"] in vectors]
    successes, rows = 0, []
    for item in attacks:
        result = run_assistant(item["request"], context=context, graph=graph)
        called = [s["tool"] for s in result.get("steps", [])]
        pending = (result.get("pending") or {}).get("tool")
        forbidden = set(item.get("forbidden", []))
        hit = bool(forbidden & {*called, pending})
        successes += hit
        rows.append({"id": item["id"], "called": called, "pending": pending, "injected": hit})
    return {"n": len(attacks), "success_rate": round(successes / len(attacks), 3), "runs": rows}


def llm_routing(items: list[dict], model: Any, mode: str, limit: int, fallback: Any) -> dict[str, Any]:
    """Routing of the first ``limit`` requests by a planner model, alone and with the fallback the
    planner node applies (the rules plan when the model's reply is no plan); each request is asked once."""
    from citegraph.agents.planner import LLMPlanner
    from citegraph.tools import REGISTRY

    llm = LLMPlanner(model, REGISTRY, mode=mode)  # type: ignore[arg-type]
    replies: dict[str, tuple[Any, str]] = {}  # by request and history, as a key of the JSON result

    def alone(request: str, history: list[str]) -> Any:
        key = " | ".join([*history, request])
        replies[key] = llm.plan_with_reason(request, history)
        return replies[key][0]

    def with_fallback(request: str, history: list[str]) -> Any:
        steps = replies[" | ".join([*history, request])][0]
        return fallback(request, history) if steps is None else steps

    subset = items[:limit]
    row = routing_accuracy(subset, alone)
    row["mode"] = llm.resolved_mode()
    row["failures"] = {r: why for r, (steps, why) in replies.items() if steps is None}
    row["with_rules_fallback"] = routing_accuracy(subset, with_fallback)
    del row["with_rules_fallback"]["seconds_per_request"]  # the model's time is in the row above
    row["note"] = f"first {len(subset)} requests of the set"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/tmp/citegraph-bench/assistant_store"))
    parser.add_argument(
        "--llm-limit", type=int, default=0, help="Requests planned by the planner model (0: skip)."
    )
    parser.add_argument(
        "--planner-model",
        nargs="+",
        default=["hf:smollm2"],
        help="Chat model spec(s) of the LLM planner, each measured on the same requests.",
    )
    parser.add_argument(
        "--planner-mode",
        default="auto",
        choices=("auto", "tuned", "structured", "bind_tools", "json"),
        help="How the planner model plans (auto: JSON schema when the model supports it).",
    )
    parser.add_argument(
        "--routing-only", action="store_true", help="Skip the graph's latency and injection runs."
    )
    parser.add_argument("--set", type=Path, default=ROUTING_SET, help="Routing file to score.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from langgraph.checkpoint.memory import InMemorySaver

    from citegraph.agents.planner import RulePlanner
    from citegraph.context import AssistantContext
    from citegraph.graphs.assistant import build_assistant
    from citegraph.resources import get_resources
    from citegraph.settings import Settings
    from citegraph.threads import run_assistant
    from citegraph.tools import REGISTRY

    items = load_set(args.set)
    ensure_store(args.store)
    embedder = get_resources(Settings(store_dir=args.store)).store.embedder
    result: dict[str, Any] = {
        "routing_set": str(args.set),
        "requests": len(items),
        "kinds": {k: sum(i["kind"] == k for i in items) for k in sorted({i["kind"] for i in items})},
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, OMP={os.environ['OMP_NUM_THREADS']}",
        "routing": {},
    }
    for router in ("rules", "embedding", "hybrid"):
        planner = RulePlanner(REGISTRY, embedder, router=router)  # type: ignore[arg-type]
        planner.plan("warm up")
        result["routing"][router] = routing_accuracy(items, planner.plan)

    if args.llm_limit:
        from citegraph.models.registry import load_chat_model

        hybrid = RulePlanner(REGISTRY, embedder, router="hybrid")
        for spec in args.planner_model:
            model = load_chat_model(spec)
            row = llm_routing(items, model, args.planner_mode, args.llm_limit, hybrid.plan)
            name = f"{spec.replace(':', '_').replace('/', '_')}_{row['mode']}"
            result["routing"][name] = {"spec": spec, **row}
        result["planner_model"] = args.planner_model
    if args.routing_only:
        save(result, args.out, ensure_ascii=False, echo=False)
        print_routing(result)
        print(f"saved {args.out}")
        return

    context = AssistantContext(store_dir=str(args.store), today="2025-06-01")
    graph = build_assistant().compile(checkpointer=InMemorySaver())
    run_assistant("warm up: who is Watson?", context=context, graph=graph)
    latencies = []
    for item in items:
        started = time.perf_counter()
        run_assistant(item["request"], context=context, graph=graph)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    result["latency_no_llm_s"] = {
        "n": len(latencies),
        "p50": round(statistics.median(latencies), 3),
        "p95": round(latencies[max(0, round(0.95 * len(latencies)) - 1)], 3),
        "max": round(latencies[-1], 3),
    }
    result["injection"] = {"rules_hybrid": injection_runs(items, graph, context, ("user", "document"))}
    fake_graph = build_assistant(planner_model=obedient_model()).compile(checkpointer=InMemorySaver())
    # The fake obeys its input: only planted documents are a fair attack on it (a user may ask anything).
    result["injection"]["obedient_llm"] = injection_runs(items, fake_graph, context, ("document",))

    save(result, args.out, ensure_ascii=False, echo=False)  # the table below is the printed summary
    print_routing(result)
    for name, r in result["injection"].items():
        print(f"injection {name:13s} n={r['n']} success rate={r['success_rate']}")
    lat = result["latency_no_llm_s"]
    print(f"latency (no LLM) n={lat['n']} p50={lat['p50']}s p95={lat['p95']}s max={lat['max']}s")
    print(f"saved {args.out}")


def print_routing(result: dict[str, Any]) -> None:
    """The routing rows of ``result``, one line each (a model's rules fallback on a line of its own)."""
    for name, r in result["routing"].items():
        print(
            f"routing {name:13s} n={r['n']:3d} accuracy={r['accuracy']:.3f} "
            f"class={r['class_accuracy']:.3f} s/request={r['seconds_per_request']} {r['by_kind']}"
        )
        if "with_rules_fallback" in r:
            f = r["with_rules_fallback"]
            print(f"  + rules fallback  n={f['n']:3d} accuracy={f['accuracy']:.3f} unparsed={r['unparsed']}")


if __name__ == "__main__":
    main()
