"""What ``citegraph ask`` prints: document text as written, never read as Rich markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from citegraph import cli

ANSWER = {
    "answer": "Implicit [heading anchors](#syntax/header-anchors) are searched [1]. See [bold]x[/bold] [1].",
    "short_answer": "[heading anchors]",
    "citations": [
        {
            "n": 1,
            "source": "/docs/cross-referencing.md",
            "location": "§ Destinations [internal], lines 166-167",
            "quote": "Then, implicit [heading anchors](#syntax/header-anchors) are searched.",
        }
    ],
}


def test_answers_quotes_and_locations_print_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=buffer, width=400, color_system=None))
    cli._print_answer(ANSWER)
    printed = buffer.getvalue()
    assert (
        "Implicit [heading anchors](#syntax/header-anchors) are searched [1]. See [bold]x[/bold] [1]."
        in printed
    )
    assert "Short answer: [heading anchors]" in printed
    assert "[1] cross-referencing.md, § Destinations [internal], lines 166-167:" in printed
    assert "“Then, implicit [heading anchors](#syntax/header-anchors) are searched.”" in printed
