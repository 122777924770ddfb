"""The ``current_date`` tool (the run's context may pin the date, for tests and replays)."""

from __future__ import annotations

import datetime as dt

from langchain_core.tools import ToolException, tool

from citegraph.tools.env import OptionalToolRuntime, RuntimeOnly, context_value


def current_date_impl(today: str = "") -> tuple[str, dict]:
    """The text and artifact for ``today`` (an ISO date; empty: the real date)."""
    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        raise ToolException(f"the configured date {today!r} is not an ISO date (YYYY-MM-DD)") from None
    text = f"Today is {day.strftime('%A')}, {day.isoformat()}."
    return text, {"date": day.isoformat(), "year": day.year, "weekday": day.strftime("%A"), "text": text}


@tool(args_schema=RuntimeOnly, response_format="content_and_artifact")
def current_date(runtime: OptionalToolRuntime = None) -> tuple[str, dict]:
    """Today's date (ISO) and weekday. Use it for "today", "this year" or "how long ago"."""
    # In a graph the run's context may pin the date (``today``); called directly, it is the real date.
    context = getattr(runtime, "context", None) if runtime is not None else None
    return current_date_impl(str(context_value(context, "today") or ""))
