"""LangChain's standard unit suite for tools (``langchain_tests.unit_tests.ToolsUnitTests``) on every tool
CiteGraph ships, plus the contract that makes them usable outside a graph: the injected ``runtime`` is
hidden from the model and optional. The integration suite (tests/integration/test_langchain_standard.py)
runs the same example calls against a real store."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from citegraph.tools import REGISTRY, current_date

# One example call per registered tool, as a model would send it. The integration suite runs these against
# a store built from tests/integration/corpus.py (remove_source against a throwaway store holding notes.txt).
EXAMPLE_ARGS: dict[str, dict[str, Any]] = {
    "search_documents": {"query": "Who designed the Kestrel bridge?", "k": 2},
    "cited_answer": {"question": "Who designed the Kestrel bridge?"},
    "calculator": {"expression": "3 hours + 20 minutes in minutes"},
    "list_sources": {},
    "summarize_source": {"source": "lighthouse.txt", "sentences": 2},
    "current_date": {},
    "remove_source": {"source": "notes.txt"},
}


class RegisteredTool:
    """The shipped registry's instance of ``tool_name`` and its example call, for the standard suites.

    The suites' ``test_init_from_env`` checks nothing here (it needs a tool class and env-var params): our
    tools are instances that read ``CITEGRAPH_STORE_DIR`` at call time, which the integration suite tests.
    """

    tool_name: ClassVar[str]

    @property
    def tool_constructor(self) -> BaseTool:
        return REGISTRY[self.tool_name].tool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return dict(EXAMPLE_ARGS[self.tool_name])


class TestSearchDocuments(RegisteredTool, ToolsUnitTests):
    tool_name = "search_documents"


class TestCitedAnswer(RegisteredTool, ToolsUnitTests):
    tool_name = "cited_answer"


class TestCalculator(RegisteredTool, ToolsUnitTests):
    tool_name = "calculator"


class TestListSources(RegisteredTool, ToolsUnitTests):
    tool_name = "list_sources"


class TestSummarizeSource(RegisteredTool, ToolsUnitTests):
    tool_name = "summarize_source"


class TestCurrentDate(RegisteredTool, ToolsUnitTests):
    tool_name = "current_date"


class TestRemoveSource(RegisteredTool, ToolsUnitTests):
    tool_name = "remove_source"


def runs_suite(c: object, suite: type) -> bool:
    """Whether ``c`` is a test class running ``suite`` on one named tool."""
    return isinstance(c, type) and issubclass(c, suite) and "tool_name" in c.__dict__


def test_every_shipped_tool_runs_the_standard_unit_suite() -> None:
    suites = {c.tool_name for c in globals().values() if runs_suite(c, ToolsUnitTests)}
    assert suites == set(REGISTRY.names) == set(EXAMPLE_ARGS)


@pytest.mark.parametrize("name", REGISTRY.names)
def test_runtime_is_hidden_from_the_model_and_optional(name: str) -> None:
    tool = REGISTRY[name].tool
    # What a model sees: the tool's own arguments only (the ToolNode injects ``runtime``).
    properties = tool.tool_call_schema.model_json_schema().get("properties", {})
    assert "runtime" not in properties
    assert set(properties) == set(tool.get_input_schema()(**EXAMPLE_ARGS[name]).model_dump()) - {"runtime"}
    assert set(tool.get_input_jsonschema().get("properties", {})) - {"runtime"} == set(properties)


def test_current_date_called_directly_reports_the_real_date() -> None:
    today = dt.date.today()
    for args in ({}, {"runtime": None}):
        message = current_date.invoke({"type": "tool_call", "name": "current_date", "args": args, "id": "d1"})
        assert message.artifact["date"] in {today.isoformat(), dt.date.today().isoformat()}
        assert message.content.startswith("Today is ")
