"""The tools the assistant's planner routes to, and the registry that names them.

Add a tool in a few lines (the rule planner routes to it by embedding similarity to its examples)::

    from citegraph.tools import default_registry
    from citegraph.graphs.assistant import build_assistant

    tools = default_registry()

    @tools.tool(examples=["what is the weather in London", "will it rain tomorrow"])
    def weather(city: str) -> str:
        \"\"\"Today's weather for a city.\"\"\"
        return f"Sunny in {city}."

    graph = build_assistant(tools).compile()

A tool marked ``sensitive=True`` never runs without a human approving the call (an ``interrupt``).

A tool that needs the knowledge base takes ``runtime: OptionalToolRuntime = None`` and calls
``env_from_runtime(runtime)``: in a graph that is the store the run's context names; invoked directly
(``tool.invoke({...})``, outside a graph) it is ``Settings()``'s store (``CITEGRAPH_STORE_DIR``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as make_tool

from citegraph.tools.calculator import CalculatorError, calculate, calculator
from citegraph.tools.clock import current_date
from citegraph.tools.documents import (
    cited_answer,
    list_sources,
    remove_source,
    search_documents,
    summarize_source,
)
from citegraph.tools.env import (
    OptionalToolRuntime,
    ToolEnv,
    env_from_context,
    env_from_runtime,
    resolve_source,
)


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool: the LangChain tool, whether it needs approval, and routing examples."""

    tool: BaseTool
    sensitive: bool = False
    examples: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def main_arg(self) -> str | None:
        """The first required string argument (the rule planner fills it with the request), if any."""
        schema = self.tool.tool_call_schema
        if not isinstance(schema, type):
            return None
        for name, field in schema.model_fields.items():
            if field.annotation is str and field.is_required():
                return name
        return None


class ToolRegistry:
    """Named tools with their approval flag and routing examples (ordered as added)."""

    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            self._specs[spec.name] = spec

    def add(self, tool: BaseTool, *, sensitive: bool = False, examples: Iterable[str] = ()) -> BaseTool:
        """Register ``tool`` (replacing a tool of the same name); returns it."""
        if not isinstance(tool, BaseTool):
            raise TypeError(f"expected a LangChain tool, got {type(tool).__name__}: decorate it with @tool")
        self._specs[tool.name] = ToolSpec(tool, sensitive, tuple(examples))
        return tool

    def tool(
        self, *, sensitive: bool = False, examples: Iterable[str] = (), **tool_kwargs: Any
    ) -> Callable[[Callable[..., Any]], BaseTool]:
        """Decorator: make a LangChain tool of a function (its docstring describes it) and register it."""

        def register(function: Callable[..., Any]) -> BaseTool:
            return self.add(make_tool(function, **tool_kwargs), sensitive=sensitive, examples=examples)

        return register

    def remove(self, name: str) -> None:
        self._specs.pop(name, None)

    def copy(self) -> ToolRegistry:
        return ToolRegistry(replace(s) for s in self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __getitem__(self, name: str) -> ToolSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def tools(self) -> list[BaseTool]:
        return [s.tool for s in self._specs.values()]

    def is_sensitive(self, name: str) -> bool:
        spec = self._specs.get(name)
        return spec is not None and spec.sensitive


def default_registry() -> ToolRegistry:
    """A fresh registry with the built-in tools (safe to extend: it is not shared)."""
    registry = ToolRegistry()
    registry.add(
        search_documents,
        examples=[
            "find passages that mention the violin",
            "search the documents for Baker Street",
            "show me excerpts about the London fog",
            "where in the texts is a telegram mentioned",
            "look up quotes about London fog",
        ],
    )
    registry.add(
        cited_answer,
        examples=[
            "who is the king of Bohemia",
            "what did the detective conclude about the stranger",
            "why did the man hide the letter",
            "when did the story take place",
            "how did the thief escape",
            "what happened to the engineer's thumb",
        ],
    )
    registry.add(
        calculator,
        examples=["what is 17 times 23", "compute 15% of 80", "how many minutes are in 4 hours"],
    )
    registry.add(
        list_sources,
        examples=[
            "what documents do you have",
            "list the files in the knowledge base",
            "which books can you answer questions about",
        ],
    )
    registry.add(
        summarize_source,
        examples=["summarize the document about the blue carbuncle", "give me an overview of the book"],
    )
    registry.add(current_date, examples=["what is the date today", "what day of the week is it"])
    registry.add(
        remove_source, sensitive=True, examples=["delete the file notes.txt from the knowledge base"]
    )
    return registry


REGISTRY = default_registry()

__all__ = [
    "REGISTRY",
    "CalculatorError",
    "OptionalToolRuntime",
    "ToolEnv",
    "ToolRegistry",
    "ToolSpec",
    "calculate",
    "calculator",
    "cited_answer",
    "current_date",
    "default_registry",
    "env_from_context",
    "env_from_runtime",
    "list_sources",
    "remove_source",
    "resolve_source",
    "search_documents",
    "summarize_source",
]
