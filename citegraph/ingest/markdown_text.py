"""Markdown as its reader sees it: the markup of Sphinx's MyST and of MkDocs rendered to plain words.

Sphinx projects written in MyST Markdown (Click, Flask, Jupyter, ...) cross-reference with roles
("{func}`launch`", "{ref}`options <options>`"), label sections with target lines ("(options)="), and put
notes and version remarks in directive fences ("```{deprecated} 8.5.0" ... "```"); MkDocs sites open
notes with "!!! note" and tabs with '=== "Sync"'. Left raw, an answer quotes "{ref}`options <options>`",
the version remark reads as a code block, and the role names ("func", "meth") weigh in every search.
Rendered as the built site shows them, a quote reads "options", and "Deprecated since version 8.5.0: ...".
HTML entities outside code show as their characters ("`TTIN` &mdash; increase" as "`TTIN` — increase"),
and a line holding only an empty HTML anchor ('<span id="signals"></span>') shows nothing.

Every rewrite stays on its line (a role spanning lines keeps its line break), so the text keeps the
file's line numbers and a citation's line needs no line map. Code blocks, and directives whose body is
code or reStructuredText ("```{eval-rst}", "```{code-block}"), are left as written.
"""

from __future__ import annotations

import html
import itertools
import re

# Roles Sphinx sets in code type ("{func}`launch`" shows as `launch`); other roles show as plain words.
CODE_ROLES = frozenset(
    "func meth class attr exc obj data const mod option envvar program command file samp kbd code any "
    "literal".split()
)
# A role, or an inline code span (which shows its text as written: "`{type}`", "`` {ref}`x` ``"; it
# ends within its paragraph); read left to right, so a role's own backticks never start a code span.
ROLE = re.compile(
    r"(?P<code>(?P<ticks>`+)[^`](?:(?!\n[ \t]*\n).)*?(?<!`)(?P=ticks)(?!`))"  # not past a blank line
    r"|(?<!\w)\{(?:[a-z]+:)?(?P<name>[a-z][\w-]*)\}`(?P<body>[^`]+)`"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)",  # an HTML entity
    re.DOTALL,
)
# "title <target>": the title is what shows.
TITLED = re.compile(r"^(?P<title>.+?)\s*<[^<>\n]+>$", re.DOTALL)
# A MyST target line: "(options)=" labels the heading after it and shows nothing.
TARGET_LINE = re.compile(r"[ \t]*\([\w.:-]+\)=[ \t]*")
# A MyST block attribute line ("{style=lower-roman}", "{#intro .wide}") sets how the next block looks.
_ATTRIBUTE = r"(?:[#.][\w-]+|[\w-]+=[^{}\s]+)"
BLOCK_ATTRIBUTES = re.compile(rf"[ \t]*\{{{_ATTRIBUTE}(?:[ \t]+{_ATTRIBUTE})*\}}[ \t]*")
# A fence: its indent, its characters, and what follows them on the line.
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w-]+)\}[ \t]*(?P<argument>.*)$")
# Directive options right after the opening line (":class: dropdown"), which show nothing.
DIRECTIVE_OPTION = re.compile(r"^[ \t]*:[\w-]+:")
# Directives whose body is prose, with how the built page introduces it; "{}" takes the argument.
PROSE_DIRECTIVES = {
    "note": "Note:",
    "tip": "Tip:",
    "hint": "Hint:",
    "important": "Important:",
    "warning": "Warning:",
    "caution": "Caution:",
    "attention": "Attention:",
    "danger": "Danger:",
    "error": "Error:",
    "seealso": "See also:",
    "admonition": "{}:",
    "versionadded": "Added in version {}:",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "versionremoved": "Removed in version {}:",
}
# An MkDocs content tab ('=== "Sync"', '===+ "Gthread"' opened first): its body is indented.
MKDOCS_TAB = re.compile(r'^(?P<indent>[ \t]*)===\+?[ \t]+"(?P<title>[^"]*)"[ \t]*$')
# A line holding only an empty HTML anchor ('<span id="signals"></span>', '<a name="top"></a>').
HTML_ANCHOR_LINE = re.compile(r"[ \t]*<(?P<tag>span|a|div)\b[^<>]*>[ \t]*</(?P=tag)>[ \t]*")
# An MkDocs admonition ("!!! note", '!!! warning "Title"', "??? tip" folded): its body is indented.
MKDOCS_ADMONITION = re.compile(
    r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$'
)


def rendered_role(match: re.Match[str]) -> str:
    """What a role shows: the title of "title <target>" (else the target: "~a.b.c" as "c", "!x" as "x",
    a bare reference label "handling-files" as "handling files"), in backticks for a code role; PEP and
    RFC roles as "PEP 8", "RFC 9110"; an HTML entity as its character. A line break the role held stays
    in it."""
    if match["code"]:
        return match["code"]
    if match["entity"]:
        return html.unescape(match["entity"])
    name, body = match["name"], match["body"]
    titled = TITLED.match(body)
    if titled:
        shown = titled["title"]
    else:
        shown = body.lstrip("!")
        if shown.startswith("~"):
            shown = shown[1:].rsplit(".", 1)[-1]
        if name in ("ref", "doc", "numref"):
            shown = re.sub(r"[-_]", " ", shown.rsplit("/", 1)[-1])
    if name in ("pep", "rfc"):
        shown = f"{name.upper()} {shown}"
    elif name in CODE_ROLES:
        shown = f"`{shown}`"
    for _ in range(body.count("\n") - shown.count("\n")):
        space = shown.rfind(" ")
        shown = f"{shown[:space]}\n{shown[space + 1 :]}" if space > 0 else f"{shown}\n"
    return shown


def _opening_line(name: str, argument: str) -> str:
    """The words a prose directive's fence line becomes ("Deprecated since version 8.5.0:")."""
    words = PROSE_DIRECTIVES[name]
    if "{}" in words:
        return words.format(argument) if argument else words.replace(" {}", "").replace("{}", name.title())
    return f"{words[:-1]}: {argument}" if argument else words


def _render_lines(lines: list[str]) -> list[tuple[str, bool]]:
    """``lines`` with target, block attribute and empty HTML anchor lines blanked, and prose directive
    fences and MkDocs admonition and tab lines rewritten, outside code; one output line per input line,
    each with whether it is code (a fence line or inside a code block), which ``render_markdown`` leaves
    as written."""
    out: list[tuple[str, bool]] = []
    closing: list[tuple[str, int]] = []  # open prose directives: (fence character, fence length)
    code_fence: tuple[str, int] | None = None  # the open code block's fence
    in_options = False
    for line in lines:
        fence = FENCE.match(line)
        if code_fence:
            char, length = code_fence
            if (
                fence
                and fence["fence"][0] == char
                and len(fence["fence"]) >= length
                and not fence["info"].strip()
            ):
                code_fence = None
            out.append((line, True))
            continue
        if in_options and DIRECTIVE_OPTION.match(line):
            out.append(("", False))
            continue
        in_options = False
        if fence:
            char, length, info = fence["fence"][0], len(fence["fence"]), fence["info"].strip()
            if not info and closing and closing[-1][0] == char and length >= closing[-1][1]:
                closing.pop()
                out.append(("", False))
                continue
            directive = DIRECTIVE.match(info)
            if directive and directive["name"] in PROSE_DIRECTIVES:
                closing.append((char, length))
                opening = _opening_line(directive["name"], directive["argument"].strip())
                out.append((fence["indent"] + opening, False))
                in_options = True
                continue
            if char != ":":  # a code block, or a directive whose body is code: left as written
                code_fence = (char, length)
                out.append((line, True))
                continue
        if (
            TARGET_LINE.fullmatch(line)
            or BLOCK_ATTRIBUTES.fullmatch(line)
            or HTML_ANCHOR_LINE.fullmatch(line)
        ):
            out.append(("", False))
            continue
        tab = MKDOCS_TAB.match(line)
        if tab:
            out.append((f"{tab['indent']}{tab['title']}:" if tab["title"] else "", False))
            continue
        admonition = MKDOCS_ADMONITION.match(line)
        if admonition:
            title = admonition["title"]
            shown = title if title is not None else admonition["kind"].replace("-", " ").capitalize()
            out.append((f"{admonition['indent']}{shown}:" if shown else "", False))
            continue
        out.append((line, False))
    return out


def render_markdown(text: str) -> str:
    """``text`` with MyST roles, target and attribute lines and prose directives, MkDocs admonitions and
    tabs, HTML entities and anchor lines, rendered as the built site shows them (see the module doc); line
    for line, code left as written."""
    # Roles outside code, over whole runs of lines: a role's title may run onto the next line.
    runs = itertools.groupby(_render_lines(text.split("\n")), key=lambda line: line[1])
    return "\n".join(
        "\n".join(line for line, _ in run)
        if code
        else ROLE.sub(rendered_role, "\n".join(line for line, _ in run))
        for code, run in runs
    )
