"""The planner agent: turns a request (and the user's earlier turns) into a short plan of tool calls.

Three ways to plan, one output (a list of :class:`Step`):

* **rules + embeddings** (no LLM): the request is split into clauses ("..., and who is Irene Adler?");
  each clause is routed by rules (arithmetic, dates, listing, summaries, removal, search verbs, chit-chat)
  and, when no rule fires, by embedding similarity to each tool's description and examples.
  "How many years between the events of X and 1900" becomes a cited answer plus a calculator step whose
  expression refers to the year found by the first step (``$step1.year``).
* **bind_tools**: a chat model that can call tools gets the registry's tools and its tool calls are the plan.
* **JSON schema** (``structured``): a model whose ``with_structured_output`` takes ``method="json_schema"``
  (ChatOpenAI, which is how a ``gguf:`` model served by llama.cpp is reached) decodes under a schema built
  from the registry (:func:`plan_schema`: each step is one real tool with that tool's arguments); llama.cpp
  turns the schema into a grammar, so even SmolLM2-135M can only write a plan that names real tools. The
  reply is validated again against each tool's own argument model; a reply that still fails is no plan,
  and the rules plan instead (the plan's notes say so).
* **JSON prompt**: a model without tool calling (the bundled SmolLM2 via ChatHuggingFace: its
  ``bind_tools`` exists but a local pipeline never returns tool calls) is asked for a JSON list of
  ``{"tool", "args"}`` and the reply is parsed tolerantly.

Safety: the planner only ever reads the user's own messages, never documents, tool results or earlier
answers; :func:`check_plan` bounds the plan and drops sensitive steps the user did not ask for.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from citegraph.agents.prompts import plan_messages, tuned_plan_messages
from citegraph.agents.reviewer import parse_decision
from citegraph.context import AssistantContext
from citegraph.models.registry import load_chat_model
from citegraph.retrieval.multi_query import keyword_form
from citegraph.state import AssistantState, Step
from citegraph.tools import REGISTRY, ToolRegistry, env_from_context

CHAT = "chat"  # pseudo-tool of a routing decision: reply without tools
Router = Literal["hybrid", "rules", "embedding"]


# -- request analysis ---------------------------------------------------------------------------------
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you|cheers|bye|goodbye|ok(ay)?"
    r"|great|cool|nice|how are you|who are you|what are you|what can you do|help)\b[\s!.,?]*"
    r"(there|so much|a lot|again|today|doing)?[\s!.,?]*$",
    re.IGNORECASE,
)
_META_CHAT = re.compile(
    r"^\s*(thanks|thank you|cheers|much appreciated)\b[^?]*$|"
    r"\b(tell me a joke|who (made|built|created) you|your name|are you (a|an) (bot|ai|human)|"
    r"(reveal|print|show|repeat) (me )?(your|the) (system )?(prompt|instructions)|you are now|"
    r"pretend (to be|you are)|developer mode|jailbreak)\b",
    re.IGNORECASE,
)
_REMOVE = re.compile(
    r"\b(remove|delete|forget|drop|purge|erase|unindex|get rid of)\b"
    r"(?!.*\b(search|find|passages?|mentions?)\b)",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(today'?s? date|date today|what (day|date) is (it|today)|current date|what year is it|"
    r"which day is (it|today)|day of the week is it|(what is|what's) (the date|today)|this year)\b",
    re.IGNORECASE,
)
_AGO = re.compile(
    r"\bhow (many|long)\b.*?\b(years?|days?)\b.*?\b(ago|since|until|from now|from today|before today)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"\b((what|which) (documents|sources|files|books|texts)|list (the |all |my |your )?(sources|documents|"
    r"files|books)|(knowledge base|library|corpus|store) (hold|contain|have)|what('s| is) in (the|your|my) "
    r"(knowledge base|library|corpus|store)|how many (documents|sources|files|books)|what do you have "
    r"(indexed|stored)|show (me )?(the |all )?(sources|documents|files))\b",
    re.IGNORECASE,
)
_SUMMARY = re.compile(
    r"\b(summari[sz]e|summary of|sum up|overview of|tl;?dr|gist of|outline of)\b", re.IGNORECASE
)
_SEARCH = re.compile(
    r"^\s*(please\s+)?(find|search|look up|locate|show me|quote|list passages|get passages|give me "
    r"(passages|excerpts|quotes))\b|\b(passages?|excerpts?|quotes?|quotations?) (about|on|that|where|"
    r"mentioning|with|containing)\b|\bwhere (does|do|is|are) .* (mentioned|mention)\b",
    re.IGNORECASE,
)
_ARITHMETIC = re.compile(
    r"\d\s*(?:[-+*/^x×÷%]|\*\*|times|plus|minus|divided by|multiplied by|percent)\s*\(?\s*\d|\d+(\.\d+)?\s*"
    r"(%|percent) of|\b(sqrt|square root)\b|\d+\s*(seconds?|minutes?|hours?|days?|weeks?|years?)\s+(in|to|"
    r"into)\s+(seconds|minutes|hours|days|weeks|years)\b",
    re.IGNORECASE,
)
_HOW_MANY_IN = re.compile(
    r"how many (seconds|minutes|hours|days|weeks)\s+(are\s+)?(there\s+)?in\s+(an?|one|\d+(?:\.\d+)?)\s+"
    r"(seconds?|minutes?|hours?|days?|weeks?|years?)",
    re.IGNORECASE,
)
_BETWEEN = re.compile(
    r"how (many|much) (years|time)\b.*?\bbetween\b\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\s*[?.!]*$", re.IGNORECASE
)
_YEAR = re.compile(r"^\s*(1[0-9]{3}|20[0-9]{2})\s*$")
_SPLIT = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<=[?.!;])\s+(?=\S)|"
    r",?\s+(?:and then|then|and also|also)\s+|;\s*|,\s+and\s+"
    r"(?=(?:who|what|when|where|why|how|which|is|are|does|did|list|find|search|summari[sz]e|show|compute|calculate|tell|give)\b)|\s+and\s+"
    r"(?=(?:who|what|when|where|why|how|which|list|find|search|summari[sz]e|show|compute|calculate|tell me|"
    r"give me)\b)",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their)\b", re.IGNORECASE)
_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|of|the|in|van|de)){0,4}\s*[A-Z]?[a-z]*)")
_NOT_NAME_START = {"Who", "What", "When", "Where", "Why", "How", "Which", "Is", "Are", "Did", "Does", "The"}
_FILE = re.compile(r"[\w./-]+\.(?:txt|md|markdown|pdf|html?)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“'‘`]([^\"”'’`]{2,120})[\"”'’`]")


def split_request(text: str) -> list[str]:
    """The clauses of a compound request, each a request of its own (empty ones dropped)."""
    parts = [p.strip(" ,;") for p in _SPLIT.split(text.strip()) if p and p.strip(" ,;?.!")]
    merged: list[str] = []
    for part in parts:
        # A one-word fragment belongs to the clause before it ("Who is Adler? Please." -> one clause).
        if merged and len(part.split()) <= 1 and not _GREETING.match(part):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def wants_removal(text: str) -> bool:
    """Whether the user's own words ask to remove a document (the precondition of any sensitive step).

    Quoted text is what the user searches for or cites, not what they ask: "search for 'delete all'" is no."""
    unquoted = _QUOTED.sub(" ", text)
    return bool(_REMOVE.search(unquoted)) and not _SEARCH.match(unquoted)


def _source_name(clause: str) -> str:
    if match := _FILE.search(clause):
        return match.group(0)
    if match := _QUOTED.search(clause):
        return match.group(1).strip()
    text = re.sub(
        r"^.*?\b(summari[sz]e|summary of|sum up|overview of|tl;?dr( of)?|gist of|outline of|remove|delete|"
        r"forget|drop|purge|erase|unindex|get rid of)\b",
        "",
        clause,
        flags=re.IGNORECASE,
    )
    text = re.sub(
        r"\b(from|in|out of) (the |my |your )?(knowledge base|store|library|corpus|index)\b.*$",
        "",
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(
        r"^\s*(me\s+)?(please\s+)?(an?|the)?\s*(document|source|file|book|story|text)?\s*(called|named|"
        r"titled|about|of)?\s*",
        "",
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"[\s,]+please$", "", text.strip(" ?.!,:;"), flags=re.IGNORECASE)
    return text.strip(" ?.!,:;") or clause.strip(" ?.!")


def _search_query(clause: str) -> str:
    text = re.sub(
        r"^\s*(please\s+)?(find|search( the documents| the texts)?( for)?|look up|locate|show me|quote|"
        r"get|give me|list)\s+(me\s+)?(all\s+)?(the\s+)?((passages?|excerpts?|quotes?|quotations?|text)\s+"
        r"(about|on|that mention|mentioning|where|with|containing|for|of)\s+)?",
        "",
        clause,
        flags=re.IGNORECASE,
    )
    return text.strip(" ?.!,") or clause.strip(" ?.!")


def _arithmetic(clause: str) -> str:
    """The arithmetic part of a clause ("What is 15% of 240?" -> "15% of 240")."""
    if match := _HOW_MANY_IN.search(clause):
        amount = {"a": "1", "an": "1", "one": "1"}.get(match.group(4).lower(), match.group(4))
        return f"{amount} {match.group(5)} in {match.group(1)}"
    text = re.sub(
        r"^\s*(please\s+)?(what('s| is| are)|how much is|compute|calculate|work out|evaluate|tell me)\s+",
        "",
        clause,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\bthe square root of\s+(\d+(?:\.\d+)?)", r"sqrt(\1)", text, flags=re.IGNORECASE)
    return text.strip(" ?.!,=")


def _resolve_follow_up(clause: str, history: Sequence[str]) -> str:
    """Replace a pronoun by the last name the user mentioned ("What did she do?" after "Who is Irene
    Adler?" -> "What did Irene Adler do?")."""
    if not history or not _PRONOUN.search(clause) or any(_names(clause)):
        return clause
    for earlier in reversed(history):
        names = _names(earlier)
        if names:
            return _PRONOUN.sub(lambda m, name=names[-1]: _pronoun_to(name, m), clause, count=1)
    return clause


def _pronoun_to(name: str, match: re.Match[str]) -> str:
    return f"{name}'s" if match.group(1).lower() in {"his", "their", "hers"} else name


def _names(text: str) -> list[str]:
    names = []
    for match in _NAME.finditer(text):
        words = match.group(1).split()
        while words and words[0] in _NOT_NAME_START:
            words = words[1:]
        while words and words[-1][0].islower():
            words = words[:-1]
        if words:
            names.append(" ".join(words))
    return names


# -- the rule + embedding planner ----------------------------------------------------------------------
_CHAT_EXAMPLES = (
    "hello there",
    "thank you, that was helpful",
    "how are you doing today",
    "what can you help me with",
    "tell me a joke",
    "good night",
)


@dataclass
class RulePlanner:
    """Plans without an LLM: rules first, then embedding similarity to tool descriptions and examples."""

    registry: ToolRegistry
    embedder: Any | None = None  # anything with embed_documents/embed_query (the bundled MiniLM)
    router: Router = "hybrid"
    min_similarity: float = 0.35
    _index: tuple[list[str], np.ndarray] | None = field(default=None, repr=False)

    def _tool_index(self) -> tuple[list[str], np.ndarray]:
        if self._index is None:
            labels, texts = [], []
            for spec in self.registry:
                if spec.sensitive:
                    continue  # a sensitive tool is never chosen by similarity, only by an explicit rule
                for text in (spec.tool.description.split("\n")[0], *spec.examples):
                    labels.append(spec.name)
                    texts.append(text)
            for text in _CHAT_EXAMPLES:
                labels.append(CHAT)
                texts.append(text)
            assert self.embedder is not None
            self._index = (labels, np.asarray(self.embedder.embed_documents(texts)))
        return self._index

    def similar_tool(self, clause: str) -> tuple[str, float]:
        """The tool (or ``chat``) whose description or examples are closest to ``clause``."""
        labels, vectors = self._tool_index()
        scores = vectors @ np.asarray(self.embedder.embed_query(clause))  # type: ignore[union-attr]
        best = int(np.argmax(scores))
        return labels[best], float(scores[best])

    def _step(self, tool: str, clause: str) -> Step:
        spec = self.registry[tool]
        arg = spec.main_arg
        if tool == "search_documents":
            return Step(tool=tool, args={"query": _search_query(clause)})
        if tool in ("summarize_source", "remove_source"):
            return Step(tool=tool, args={"source": _source_name(clause)})
        if tool == "calculator":
            return Step(tool=tool, args={"expression": _arithmetic(clause)})
        return Step(tool=tool, args={arg: clause.strip()} if arg else {})

    def route_clause(self, clause: str, offset: int = 0) -> list[Step]:
        """The steps for one clause; ``offset`` is the number of steps planned before it."""
        use_rules = self.router in ("hybrid", "rules")
        has = self.registry.__contains__
        if use_rules:
            if _GREETING.match(clause) or _META_CHAT.search(clause):
                return []
            if wants_removal(clause) and has("remove_source"):
                return [self._step("remove_source", clause)]
            if _AGO.search(clause) and has("current_date") and has("calculator"):
                years = re.findall(r"\b(1[0-9]{3}|20[0-9]{2})\b", clause)
                if years:
                    n = offset + 1
                    return [
                        Step(tool="current_date", args={}),
                        Step(tool="calculator", args={"expression": f"$step{n}.year - {years[0]}"}),
                    ]
            if (between := _BETWEEN.search(clause)) and has("calculator"):
                a, b = between.group("a").strip(), between.group("b").strip()
                if _YEAR.match(a) and _YEAR.match(b):
                    return [Step(tool="calculator", args={"expression": f"abs({b} - {a})"})]
                year, event = (a, b) if _YEAR.match(a) else (b, a) if _YEAR.match(b) else ("", "")
                if year and has("cited_answer"):
                    event = re.sub(r"^(the )?(events|story|time) of\s+", "", event, flags=re.IGNORECASE)
                    n = offset + 1
                    return [
                        Step(tool="cited_answer", args={"question": f"In what year did {event} take place?"}),
                        Step(tool="calculator", args={"expression": f"abs({year} - $step{n}.year)"}),
                    ]
            if _DATE.search(clause) and has("current_date"):
                return [Step(tool="current_date", args={})]
            if (_ARITHMETIC.search(clause) or _HOW_MANY_IN.search(clause)) and has("calculator"):
                return [self._step("calculator", clause)]
            if _LIST.search(clause) and has("list_sources"):
                return [self._step("list_sources", clause)]
            if _SUMMARY.search(clause) and has("summarize_source"):
                return [self._step("summarize_source", clause)]
            if _SEARCH.search(clause) and has("search_documents"):
                return [self._step("search_documents", clause)]
        if self.router in ("hybrid", "embedding") and self.embedder is not None:
            tool, score = self.similar_tool(clause)
            if score >= self.min_similarity and (tool == CHAT or has(tool)):
                if tool == CHAT:
                    return []
                # In hybrid mode, tools whose arguments only their rules extract are not chosen by similarity.
                if not (self.router == "hybrid" and tool in {"calculator", "summarize_source"}):
                    return [self._step(tool, clause)]
        if not re.search(r"\w{3,}", clause):
            return []
        return [self._step("cited_answer", clause)] if has("cited_answer") else []

    def plan(self, request: str, history: Sequence[str] = ()) -> list[Step]:
        """The plan for ``request`` given the user's earlier messages ``history`` (oldest first)."""
        steps: list[Step] = []
        earlier = list(history)
        for clause in split_request(request):
            resolved = _resolve_follow_up(clause, earlier)
            steps.extend(self.route_clause(resolved, offset=len(steps)))
            earlier.append(clause)
        return steps


# -- LLM planners ---------------------------------------------------------------------------------------
PLAN_SYSTEM = (
    "You plan tool calls for a document assistant. Reply with only a JSON list of steps, each "
    '{{"tool": NAME, "args": {{...}}}}, in the order to run them. Reply [] when no tool is needed '
    "(greetings, thanks, small talk). Tools:\n{tools}\n"
    "Examples:\n"
    'Who is Irene Adler? -> [{{"tool": "cited_answer", "args": {{"question": "Who is Irene Adler?"}}}}]\n'
    'What is 12 * 7? -> [{{"tool": "calculator", "args": {{"expression": "12 * 7"}}}}]\n'
    "Hello! -> []\n"
    'List your documents and summarize notes.txt -> [{{"tool": "list_sources", "args": {{}}}}, '
    '{{"tool": "summarize_source", "args": {{"source": "notes.txt"}}}}]'
)


def tool_lines(registry: ToolRegistry) -> str:
    lines = []
    for spec in registry:
        args = ", ".join(spec.tool.tool_call_schema.model_json_schema().get("properties", {}))
        lines.append(f"- {spec.name}({args}): {spec.tool.description.split(chr(10))[0]}")
    return "\n".join(lines)


def tool_brief(registry: ToolRegistry) -> str:
    """The tools as a planner adapter's prompt names them: ``name(required args)``, comma-separated (the
    adapter learned what each is for; optional arguments keep their defaults, as in ``plan_schema``)."""
    briefs = []
    for spec in registry:
        required = spec.tool.tool_call_schema.model_json_schema().get("required", [])
        briefs.append(f"{spec.name}({', '.join(required)})")
    return ", ".join(briefs)


def is_plan_adapter(model: Any) -> bool:
    """Whether ``model`` is a LoRA chat model bound to an adapter trained to plan (its directory declares
    the task: ``citegraph train lora-planner`` writes the marker)."""
    from citegraph.models.lora.adapters import adapter_task

    return adapter_task(model) == "plan"


def parse_plan(text: str) -> list[Step] | None:
    """Steps from a model's reply, tolerantly: the first JSON list (or object) in it, code fences,
    single quotes and trailing commas allowed; ``name``/``arguments`` accepted for ``tool``/``args``.
    None when the reply holds no plan at all (``[]`` is a plan: no tools)."""
    text = re.sub(r"```(?:json)?", "", text or "")
    for opening, closing in (("[", "]"), ("{", "}")):
        start = text.find(opening)
        while start != -1:
            depth = 0
            for end in range(start, len(text)):
                depth += {opening: 1, closing: -1}.get(text[end], 0)
                if depth == 0:
                    steps = _steps_from(_loads(text[start : end + 1]))
                    if steps is not None:
                        return steps
                    break
            start = text.find(opening, start + 1)
    return None


def _loads(snippet: str) -> Any:
    for candidate in (snippet, re.sub(r",\s*([}\]])", r"\1", snippet.replace("'", '"'))):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


def _steps_from(value: Any) -> list[Step] | None:
    if isinstance(value, dict):
        value = value.get("steps", value.get("plan", [value]))
    if not isinstance(value, list):
        return None
    steps = []
    for item in value:
        if not isinstance(item, dict):
            continue
        name = item.get("tool") or item.get("name")
        args = item.get("args", item.get("arguments", {}))
        if isinstance(args, str):
            args = _loads(args) or {}
        if isinstance(name, str) and isinstance(args, dict):
            steps.append(Step(tool=name.strip(), args=args))
    return steps


def supports_tool_calls(model: Any) -> bool:
    """Whether ``model`` returns real tool calls from ``bind_tools`` (a local HF pipeline does not)."""
    llm = getattr(model, "llm", None)
    if type(model).__name__ == "ChatHuggingFace" and type(llm).__name__ == "HuggingFacePipeline":
        return False
    try:
        model.bind_tools([])
    except (NotImplementedError, AttributeError):
        return False
    except Exception:
        return True
    return True


def supports_json_schema(model: Any) -> bool:
    """Whether ``model`` decodes under a JSON schema: its class has its own ``with_structured_output``
    that offers ``method="json_schema"`` (ChatOpenAI and kin). LangChain's generic one goes through tool
    calls, which constrain nothing, so it does not count."""
    method = getattr(type(model), "with_structured_output", None)
    if method is None or method is BaseChatModel.with_structured_output:
        return False
    try:
        parameter = inspect.signature(method).parameters.get("method")
    except (TypeError, ValueError):
        return False
    return parameter is not None and "json_schema" in str(parameter.annotation)


def _args_schema(spec: Any) -> dict[str, Any]:
    """The JSON schema of a tool's required arguments, without titles, closed to other keys so the model
    cannot invent arguments. Optional ones (``k``, ``sentences``) are left to their defaults: a small
    model given the choice fills them with noise, as the rule planner never does."""
    schema = spec.tool.tool_call_schema.model_json_schema()
    required = schema.get("required", [])
    properties = {
        name: {k: v for k, v in prop.items() if k != "title"}
        for name, prop in schema.get("properties", {}).items()
        if name in required
    }
    args: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        args["required"] = list(required)
    return args


def plan_schema(registry: ToolRegistry, max_steps: int = 5) -> dict[str, Any]:
    """The JSON schema of a plan: ``{"steps": [{"tool": NAME, "args": {...}}, ...]}``, each step one of
    the registry's tools with that tool's arguments (``tool`` first, so the model picks the tool before it
    writes arguments). An object at the top because OpenAI's ``response_format`` wants one."""
    steps = []
    for spec in registry:
        steps.append(
            {
                "type": "object",
                "properties": {"tool": {"type": "string", "const": spec.name}, "args": _args_schema(spec)},
                "required": ["tool", "args"],
                "additionalProperties": False,
            }
        )
    return {
        "title": "plan",
        "description": "The tool calls that serve the request, in order; no steps for small talk.",
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"anyOf": steps}, "maxItems": max_steps}},
        "required": ["steps"],
        "additionalProperties": False,
    }


def validate_plan(value: Any, registry: ToolRegistry) -> tuple[list[Step] | None, str]:
    """Steps from a structured reply, each checked against its tool's own argument model; (None, why)
    when anything is off: a grammar guarantees the shape only if the server really applied it."""
    if not isinstance(value, dict) or not isinstance(value.get("steps"), list):
        return None, f"the reply is not an object with a list of steps: {str(value)[:120]!r}"
    steps: list[Step] = []
    for item in value["steps"]:
        if not isinstance(item, dict) or not isinstance(item.get("args", {}), dict):
            return None, f"a step is not a tool call: {str(item)[:120]!r}"
        name = item.get("tool")
        if name not in registry:
            return None, f"unknown tool {name!r}"
        args = dict(item.get("args") or {})
        try:
            registry[name].tool.tool_call_schema.model_validate(args)
        except Exception as error:  # pydantic's ValidationError, or a schema that cannot validate at all
            return None, f"bad arguments for {name}: {str(error).splitlines()[0]}"
        steps.append(Step(tool=name, args=args))
    return steps, ""


def _no_repeat_penalty(model: Any) -> dict[str, Any]:
    """Call options that switch off a repetition penalty the model is configured with (the ``gguf:``
    models use 1.1 for prose): JSON repeats ``"tool"`` and ``"args"`` in every step, and a penalised model
    picks its tools by what it has not written yet. Nothing for a model without one."""
    extra = getattr(model, "extra_body", None)
    if isinstance(extra, dict) and "repeat_penalty" in extra:
        return {"extra_body": {**extra, "repeat_penalty": 1.0}}
    if type(model).__name__ == "AdapterChatModel":  # a transformers pipeline: 1.1 by default (models/hf.py)
        return {"pipeline_kwargs": {"repetition_penalty": 1.0}}
    return {}


@dataclass
class LLMPlanner:
    """Plans with a chat model: a JSON schema when it decodes under one, else ``bind_tools`` when it calls
    tools, else a JSON plan parsed tolerantly."""

    model: Any
    registry: ToolRegistry
    mode: Literal["auto", "tuned", "structured", "bind_tools", "json"] = "auto"
    max_steps: int = 5
    max_plan_tokens: int = 160  # a five-step plan with its arguments fits; a runaway reply stops here

    def resolved_mode(self) -> str:
        """The mode ``auto`` stands for with this model."""
        if self.mode != "auto":
            return self.mode
        if is_plan_adapter(self.model):
            return "tuned"
        if supports_json_schema(self.model):
            return "structured"
        return "bind_tools" if supports_tool_calls(self.model) else "json"

    def plan(self, request: str, history: Sequence[str] = ()) -> list[Step] | None:
        """The plan, or None when the model's reply holds none."""
        return self.plan_with_reason(request, history)[0]

    def plan_with_reason(self, request: str, history: Sequence[str] = ()) -> tuple[list[Step] | None, str]:
        """(the plan, "") or (None, why the reply was no plan)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        mode = self.resolved_mode()
        earlier = "".join(f"Earlier request: {h}\n" for h in history[-3:])
        if mode == "structured":
            tools = tool_lines(self.registry)
            return self._structured(plan_messages(tools, earlier + request, self.registry.names))
        if mode == "tuned":
            return self._tuned_by_clause(request, history)
        if mode == "bind_tools":
            bound = self.model.bind_tools(self.registry.tools())
            system = "Call the tools needed for the request, in order; call none for small talk."
            reply = bound.invoke([SystemMessage(system), HumanMessage(earlier + request)])
            steps = [Step(tool=c["name"], args=dict(c.get("args") or {})) for c in reply.tool_calls]
            steps = steps or parse_plan(str(reply.content))
        else:
            system = PLAN_SYSTEM.format(tools=tool_lines(self.registry))
            reply = self.model.invoke(
                [SystemMessage(system), HumanMessage(earlier + request + "\nJSON plan:")]
            )
            steps = parse_plan(str(reply.content))
        return steps, "" if steps is not None else "the reply held no JSON plan"

    def _tuned_by_clause(self, request: str, history: Sequence[str]) -> tuple[list[Step] | None, str]:
        """Plan each clause of a compound request (:func:`split_request`) with the planner adapter and
        join the plans, each ``$stepN`` renumbered past the steps before it: a small adapter plans one
        clause far more reliably than it plans two (on requests from its own training bank, two-step
        plans went from 20/52 right to 29/52, single requests stayed at 75/84)."""
        steps: list[Step] = []
        for clause in split_request(request) or [request]:
            clause_steps, why = self._tuned(clause, history)
            if clause_steps is None:
                return None, why
            named = [_source_as_named(step, clause, history) for step in clause_steps]
            steps += [shifted_step(step, len(steps)) for step in named]
        if len(steps) > self.max_steps:
            return None, f"the plan has {len(steps)} steps (at most {self.max_steps})"
        return steps, ""

    def _tuned(self, request: str, history: Sequence[str]) -> tuple[list[Step] | None, str]:
        """Plan with a planner adapter in the prompt it was trained on (:func:`tuned_plan_messages`), under
        the plan's JSON schema when the model decodes under one (``gguf:<base>+<adapter>``), then validate
        like a constrained plan: the first JSON object of the reply must be ``{"steps": [...]}`` with real
        tools and arguments their models accept, else it is no plan (the rules then plan)."""
        messages = tuned_plan_messages(tool_brief(self.registry), request, history)
        if supports_json_schema(self.model):
            return self._structured(messages)
        try:
            reply = self.model.invoke(
                messages, max_tokens=self.max_plan_tokens, **_no_repeat_penalty(self.model)
            )
        except Exception as error:  # a failing local model must not fail the request
            return None, f"the planner adapter failed: {type(error).__name__}: {str(error)[:160]}"
        text = str(reply.content)
        start = text.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else (None, 0)
        except json.JSONDecodeError as error:
            return None, f"the reply was not JSON: {error}: {text[:120]!r}"
        steps, why = validate_plan(value, self.registry)
        if steps is not None and len(steps) > self.max_steps:
            return None, f"the plan has {len(steps)} steps (at most {self.max_steps})"
        return steps, why

    def _structured(self, messages: list[BaseMessage]) -> tuple[list[Step] | None, str]:
        """Answer ``messages`` under :func:`plan_schema` and validate; never raises on a bad reply or a
        server error (the rules then plan), since a plan that fails must not fail the request."""
        schema = plan_schema(self.registry, self.max_steps)
        constrained = self.model.with_structured_output(
            schema, method="json_schema", include_raw=True, **_no_repeat_penalty(self.model)
        )
        try:
            reply = constrained.invoke(messages)
        except Exception as error:  # a refused schema, a dead server, a reply cut at max_tokens
            return None, f"the constrained call failed: {type(error).__name__}: {str(error)[:160]}"
        if reply.get("parsing_error") is not None:
            return None, f"the reply was not JSON: {str(reply['parsing_error'])[:160]}"
        return validate_plan(reply.get("parsed"), self.registry)


def _source_as_named(step: Step, clause: str, history: Sequence[str] = ()) -> Step:
    """``step`` with its ``source`` argument spelled as the user wrote it: the clause's or an earlier
    request's own spelling of the name (case and stray spaces the adapter changed: `` Meeting_notes.txt``;
    a file name with words around it: ``the document notes.txt``), else the name the clause gives
    (:func:`_source_name`). A small adapter copies file names letter by letter and misspells them
    ("summarise raft.pdf" gave ``ratrace.pdf``); the user's words name the document. A name inside a
    longer one (``notes.txt`` or ``meeting_notes`` in ``meeting_notes.txt``) is not the user's."""
    source = step.get("args", {}).get("source")
    if not isinstance(source, str):
        return step
    file_name = _FILE.search(source)  # "the document notes.txt" names notes.txt
    name = file_name.group(0) if file_name else source.strip()
    as_said = re.compile(rf"(?<![\w./-]){re.escape(name)}(?![\w/-]|\.\w)", re.IGNORECASE)
    for said in (clause, *reversed(history)) if name else ():
        if match := as_said.search(said):
            return Step(tool=step["tool"], args={**step["args"], "source": match.group(0)})
    return Step(tool=step["tool"], args={**step["args"], "source": _source_name(clause)})


_STEP_REFERENCE = re.compile(r"\$step(\d+)")


def shifted_step(step: Step, offset: int) -> Step:
    """``step`` with each ``$stepN`` in its string arguments pointing ``offset`` steps further on."""

    def shift(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return _STEP_REFERENCE.sub(lambda m: f"$step{int(m.group(1)) + offset}", value)

    return Step(tool=step["tool"], args={name: shift(value) for name, value in step["args"].items()})


# -- plan classes ----------------------------------------------------------------------------------------
_CALCULATION_TOOLS = {"calculator", "current_date"}


def plan_class(tools: Sequence[str] | None) -> str | None:
    """The class a plan routes its request to: ``chat`` (no steps), ``calculation`` (only the calculator
    and the clock), ``documents`` (only document tools) or ``mixed``; None for no plan."""
    if tools is None:
        return None
    if not tools:
        return "chat"
    calculation = {t in _CALCULATION_TOOLS for t in tools}
    if calculation == {True}:
        return "calculation"
    return "documents" if calculation == {False} else "mixed"


# -- plan policy ------------------------------------------------------------------------------------------
def check_plan(
    steps: Sequence[Step], registry: ToolRegistry, request: str, max_steps: int
) -> tuple[list[Step], list[str]]:
    """Bound a plan and drop what the user did not ask for; returns (steps, notes on what was dropped).

    Unknown tools and bad arguments are kept on purpose: the tool node turns them into error messages
    the planner sees. Sensitive steps are dropped unless the user's own request asks for a removal.
    """
    kept: list[Step] = []
    notes: list[str] = []
    for step in steps:
        if registry.is_sensitive(step["tool"]) and not wants_removal(request):
            notes.append(f"dropped {step['tool']}: the request does not ask for it")
            continue
        if len(kept) >= max_steps:
            notes.append(f"dropped steps after the first {max_steps}")
            break
        kept.append(Step(tool=str(step["tool"]), args=dict(step.get("args") or {})))
    return kept, notes


def revise_plan(request: str, outcomes: Sequence[dict[str, Any]]) -> list[Step]:
    """At most one revision, from structured outcomes only (tool, args, ok, abstained, hit count: never
    document text): retry an abstained cited answer or an empty search with the keyword form."""
    extra: list[Step] = []
    for outcome in outcomes:
        if outcome["tool"] == "cited_answer" and outcome.get("ok") and outcome.get("abstained"):
            question = str(outcome["args"].get("question", ""))
            keywords = keyword_form(question)
            if keywords and keywords.lower() != question.lower():
                extra.append(Step(tool="search_documents", args={"query": keywords}))
        if outcome["tool"] == "search_documents" and outcome.get("ok") and outcome.get("hits") == 0:
            query = str(outcome["args"].get("query", ""))
            keywords = keyword_form(query)
            if keywords and keywords.lower() != query.lower():
                extra.append(Step(tool="search_documents", args={"query": keywords}))
    return extra[:2]


# -- nodes and route -----------------------------------------------------------------------------------


def user_turns(state: AssistantState) -> list[str]:
    """The user's own messages of the conversation, oldest first (the only text the planner reads)."""
    return [str(m.content) for m in state.get("messages", []) if isinstance(m, HumanMessage)]


def plan(
    state: AssistantState,
    runtime: Runtime[AssistantContext],
    registry: ToolRegistry = REGISTRY,
    planner_model: Any | None = None,
) -> dict[str, Any]:
    """Plan the tool calls for the user's latest message from the user's own messages only.

    ``planner_model`` (a chat model object) overrides the context's ``planner_model`` spec; without
    either, the rules + embeddings planner plans. Starts this turn's bookkeeping afresh."""
    context = runtime.context or AssistantContext()
    turns = user_turns(state)
    request = turns[-1] if turns else ""
    history = turns[:-1]
    model = planner_model if planner_model is not None else load_chat_model(context.planner_model)
    notes: list[str] = []
    steps: list[Step] | None = None
    if model is not None:
        steps, why = LLMPlanner(model, registry, max_steps=context.max_steps).plan_with_reason(
            request, history
        )
        if steps is None:
            notes.append(f"the planner model's reply was not a plan ({why}): planned by rules instead")
    if steps is None:
        embedder = env_from_context(context).store.embedder
        steps = RulePlanner(registry, embedder, router=context.router).plan(request, history)
    steps, dropped = check_plan(steps, registry, request, context.max_steps)
    return {
        "request": request,
        "plan": steps,
        "notes": notes + dropped,
        "cursor": 0,
        "pending": None,
        "steps": [],
        "results": {},
        "approved_calls": [],
        "revised": not context.revise,
    }


def after_plan(
    state: AssistantState, runtime: Runtime[AssistantContext]
) -> Literal["review_plan", "dispatch"]:
    """A human sees a non-empty plan first when ``approve_plan`` is on."""
    context = runtime.context or AssistantContext()
    return "review_plan" if context.approve_plan and state.get("plan") else "dispatch"


def review_plan(state: AssistantState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Ask a human to approve, edit or reject the plan (resume with "approve", {"action": "edit",
    "plan": [...]}, or {"action": "reject", "feedback": "..."})."""
    decision = parse_decision(
        interrupt(
            {"type": "plan_approval", "request": state.get("request", ""), "plan": state.get("plan", [])}
        ),
        edit_field="plan",
    )
    if decision["action"] == "approve":
        return {}
    notes = state.get("notes", [])
    if decision["action"] == "edit":
        edited = decision["plan"]
        if not isinstance(edited, list):
            return {"plan": [], "notes": [*notes, "the edited plan was not a list"]}
        steps = [Step(tool=str(s.get("tool", "")), args=dict(s.get("args") or {})) for s in edited]
        # The human is the user: an edit may add a sensitive step, which still needs call approval.
        return {"plan": steps[: (runtime.context or AssistantContext()).max_steps]}
    note = "the plan was rejected" + (f": {decision['feedback']}" if decision["feedback"] else "")
    return {"plan": [], "notes": [*notes, note]}


def revise(
    state: AssistantState, runtime: Runtime[AssistantContext], registry: ToolRegistry = REGISTRY
) -> dict[str, Any]:
    """Revise the plan once from structured outcomes (never document text): e.g. search by keywords
    after a cited answer abstained."""
    outcomes = []
    for step in state.get("steps", []):
        artifact = state.get("results", {}).get(step["id"], {})
        outcomes.append(
            {
                "tool": step["tool"],
                "args": step["args"],
                "ok": step.get("ok", False),
                "abstained": bool(artifact.get("abstained")),
                "hits": len(artifact.get("hits", [])) if "hits" in artifact else None,
            }
        )
    room = (runtime.context or AssistantContext()).max_steps - len(state.get("plan", []))
    extra = [s for s in revise_plan(state.get("request", ""), outcomes) if s["tool"] in registry]
    return {"revised": True, "plan": [*state.get("plan", []), *extra[: max(room, 0)]]}
