"""MyST and MkDocs markup rendered as the built site shows it (citegraph.ingest.markdown_text), line for line,
and what the Markdown loader stores and cites."""

from __future__ import annotations

from pathlib import Path

from citegraph.ingest.loaders import load_document
from citegraph.ingest.markdown_text import render_markdown

MYST = """(launching)=

## Launching Applications

Click supports launching applications through {func}`launch`. See {ref}`the utilities <utils>`,
{ref}`handling-files`, {py:meth}`~click.Context.invoke`, {pep}`8` and {ref}`a title that runs
onto the next line <long-target>`.

```{deprecated} 8.5.0
{meth}`CliRunner.isolated_filesystem` will be removed in Click 9.0.
```

```{admonition} Note on Files
:class: note

   Use {class}`click.File`.
```

```{eval-rst}
.. click:example::

    {func}`left as written` in reStructuredText
```

```python
print(f"{name}`")  # code keeps its {func}`roles`
```

* `{type}` is a placeholder in code, not a role.

{style=lower-roman}
1. First
"""


def test_myst_roles_directives_and_targets_render_line_for_line() -> None:
    rendered = render_markdown(MYST)
    lines = rendered.split("\n")
    assert len(lines) == len(MYST.split("\n"))  # a citation's line number needs no map
    assert lines[0] == ""  # the target line shows nothing
    assert lines[4] == "Click supports launching applications through `launch`. See the utilities,"
    assert lines[5] == "handling files, `invoke`, PEP 8 and a title that runs"
    assert lines[6] == "onto the next line."
    assert lines[8:11] == [
        "Deprecated since version 8.5.0:",
        "`CliRunner.isolated_filesystem` will be removed in Click 9.0.",
        "",
    ]
    assert lines[12:17] == ["Note on Files:", "", "", "   Use `click.File`.", ""]
    assert "    {func}`left as written` in reStructuredText" in lines
    assert 'print(f"{name}`")  # code keeps its {func}`roles`' in lines
    assert "* `{type}` is a placeholder in code, not a role." in lines
    assert lines[-3:] == ["", "1. First", ""]  # the block attribute line shows nothing


def test_mkdocs_admonitions_render_as_their_title() -> None:
    text = '!!! note\n    The `--reload` flag.\n\n??? abstract "API Reference"\n    Body.\n\n'
    text += "    !!! tip\n        x\n"
    assert render_markdown(text).split("\n") == [
        "Note:",
        "    The `--reload` flag.",
        "",
        "API Reference:",
        "    Body.",
        "",
        "    Tip:",
        "        x",
        "",
    ]


def test_mkdocs_tabs_html_entities_and_anchor_lines_render_as_shown() -> None:
    text = (
        '<span id="signals"></span>\n# Signals\n\n- `TTIN` &mdash; one more worker; AT&T &amp; `a &amp; b`.\n'
    )
    text += '\n=== "Sync"\n\n    The **default** worker.\n\n```\nx &mdash; y\n```\n'
    assert render_markdown(text).split("\n") == [
        "",
        "# Signals",
        "",
        "- `TTIN` — one more worker; AT&T & `a &amp; b`.",  # inline code shows its entities as written
        "",
        "Sync:",
        "",
        "    The **default** worker.",
        "",
        "```",
        "x &mdash; y",
        "```",
        "",
    ]


def test_inline_code_keeps_its_roles_as_written() -> None:
    text = "Write `` {ref}`My title <myref>` `` or `{type}`; {func}`x` is a role."
    text += "\n\nA stray ` tick.\n\n{class}`B`"
    assert render_markdown(text) == (
        "Write `` {ref}`My title <myref>` `` or `{type}`; `x` is a role.\n\nA stray ` tick.\n\n`B`"
    )


def test_text_without_markup_is_unchanged() -> None:
    text = "# Title\n\nA `code` span, {braces} and (parentheses)=x.\n\n```\n(label)=\n```\n"
    assert render_markdown(text) == text


def test_markdown_loader_stores_the_rendered_text_with_the_files_lines(tmp_path: Path) -> None:
    path = tmp_path / "utils.md"
    path.write_text(MYST)
    document = load_document(path, max_bytes=1_000_000)
    assert "through `launch`." in document.text and "{func}" not in document.text.split("```")[0]
    heading = next(h for h in document.headings if h.title == "Launching Applications")
    assert document.text[: heading.offset].count("\n") == 2  # the heading keeps its line (line 3)
