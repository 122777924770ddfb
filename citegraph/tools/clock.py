"""The ``current_date`` tool (the run's context may pin the date, for tests and replays)."""

from __future__ import annotations

import datetime as dt

from langchain_core.tools import ToolException, tool
from langgraph.prebuilt import ToolRuntime

from citegraph.tools.env import ToolEnv


def current_date_impl(today: str = "") -> tuple[str, dict]:
    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        raise ToolException(f"the configured date {today!r} is not an ISO date (YYYY-MM-DD)") from None
    text = f"Today is {day.strftime('%A')}, {day.isoformat()}."
    return text, {"date": day.isoformat(), "year": day.year, "weekday": day.strftime("%A"), "text": text}


@tool(response_format="content_and_artifact")
def current_date(runtime: ToolRuntime) -> tuple[str, dict]:
    """Today's date (ISO) and weekday. Use it for "today", "this year" or "how long ago"."""
    context = getattr(runtime, "context", None)
    today = context.today if isinstance(context, ToolEnv) else str(getattr(context, "today", "") or "")
    return current_date_impl(today)
