"""The composer: writes the assistant's one answer from the outcomes of its tool calls.

Document sentences keep their citations, re-verified against the quotes they cite (a tool's answer is
data, not trusted); computed facts (a calculation, the date, the source list) cite the tool call that
produced them; a failed step says so. Citations are renumbered across steps.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from citegraph.agents.verifier import Verifier
from citegraph.answers import ABSTAIN_TEXTS, Answer, in_language_of, renumbered
from citegraph.context import AssistantContext
from citegraph.models.judge.judge import Judge, judge_for_settings
from citegraph.state import AssistantState, StepRecord
from citegraph.tools import env_from_context

CHAT_REPLY = (
    "I answer questions about your documents, citing a source for every sentence. Ask me about them, "
    "ask me to find passages, list or summarize the documents, or to do a calculation."
)
DOCUMENT_TOOLS = ("cited_answer", "search_documents", "summarize_source")


def _tool_fact(step: StepRecord, artifact: dict[str, Any]) -> str:
    """The sentence a non-document tool's result becomes."""
    if step["tool"] == "list_sources" and "sources" in artifact:
        names = ", ".join(s["source"].rsplit("/", 1)[-1] for s in artifact["sources"])
        return f"The knowledge base holds {len(artifact['sources'])} sources: {names}."
    if step["tool"] == "remove_source":
        return f"Removed {', '.join(artifact.get('removed', []))} from the knowledge base."
    return str(artifact.get("text") or artifact.get("answer") or "").strip()


def compose_answer(state: AssistantState, judge: Judge) -> dict[str, Any]:
    """The answer JSON of a finished turn (see the module docstring), with ``steps`` and ``notes``."""
    verifier = Verifier(judge)
    sentences: list[str] = []
    citations: list[dict[str, Any]] = []
    verified = True
    used_documents = False
    abstentions = 0
    steps = state.get("steps", [])
    for k, step in enumerate(steps, start=1):
        artifact = state.get("results", {}).get(step["id"], {})
        if not step.get("ok"):
            error = str(step.get("error", "unknown error")).removeprefix("Error: ").rstrip(".")
            sentences.append(f"Step {k} ({step['tool']}) failed: {error}.")
            continue
        if step["tool"] in DOCUMENT_TOOLS or "citations" in artifact:
            if artifact.get("abstained") or not artifact.get("citations"):
                abstentions += 1
                what = step["args"].get("question") or step["args"].get("query") or step["args"]
                sentences.append(f"On “{what}”: {in_language_of(str(what), ABSTAIN_TEXTS)}")
                continue
            quotes = {c["n"]: c["quote"] for c in artifact["citations"]}
            check = verifier.verify(str(artifact.get("answer", "")), quotes)
            verified = verified and check.verified
            if not check.supported_text:
                abstentions += 1
                continue
            used_documents = True
            kept = Answer(
                question="",
                answer=check.supported_text,
                citations=artifact["citations"],
                abstained=False,
                verified=True,
            )
            part = renumbered(kept, first=len(citations) + 1)
            citations += part["citations"]
            sentences.append(part["answer"])
        else:
            n = len(citations) + 1
            text = _tool_fact(step, artifact)
            citations.append(
                {
                    "n": n,
                    "chunk_id": "",
                    "source": f"tool:{step['tool']}",
                    "location": f"step {k}",
                    "quote": text,
                    "start": 0,
                    "end": 0,
                    "tool_call_id": step["id"],
                    "args": step["args"],
                }
            )
            sentences.append(f"{text.rstrip('.')} [{n}].")
    if not steps:
        rejected = [n for n in state.get("notes", []) if "rejected" in n]
        sentences.append(rejected[0].capitalize() + "." if rejected else CHAT_REPLY)
    abstained = bool(steps) and not citations and abstentions > 0
    request = state.get("request", "")
    return {
        "question": request,
        "answer": " ".join(sentences) if not abstained else in_language_of(request, ABSTAIN_TEXTS),
        "citations": citations,
        "abstained": abstained,
        "verified": verified and not abstained,
        "used_documents": used_documents,
        "steps": [{"tool": s["tool"], "args": s["args"], "ok": bool(s.get("ok"))} for s in steps],
        "notes": list(state.get("notes", [])),
    }


def finalize(state: AssistantState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Write the answer: document sentences keep (re-verified) citations, computed facts cite the tool
    call that made them; with no steps, a short reply."""
    store = env_from_context(runtime.context or AssistantContext()).store
    answer = compose_answer(state, judge_for_settings(store.settings))
    return {"answer": answer, "messages": [AIMessage(content=answer["answer"])]}
