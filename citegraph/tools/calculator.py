"""The ``calculator`` tool: arithmetic, percentages and units of time, parsed with ``ast`` (never ``eval``).

Accepted: numbers, ``+ - * / // % **`` (``^`` and ``x``/``×``/``÷`` are read as power, times and divide),
parentheses, ``abs round sqrt min max``, percentages (``15% of 240``, ``200 + 10%``) and durations
(``3 hours + 20 minutes in minutes``, ``2 weeks in days``). Sizes are bounded: the expression length, the
number of syntax nodes, exponents and the magnitude of every intermediate result.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass

from langchain_core.tools import ToolException, tool

MAX_CHARS = 200
MAX_NODES = 80
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e30

# Seconds per unit; singular, plural and short names all map here.
_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "year": 365.25 * 86400,
    "month": 365.25 * 86400 / 12,
    "decade": 10 * 365.25 * 86400,
    "century": 100 * 365.25 * 86400,
}
_ALIASES = {
    "seconds": "second", "sec": "second", "secs": "second", "s": "second",
    "minutes": "minute", "min": "minute", "mins": "minute",
    "hours": "hour", "hr": "hour", "hrs": "hour", "h": "hour",
    "days": "day", "d": "day", "weeks": "week", "wk": "week", "wks": "week",
    "years": "year", "yr": "year", "yrs": "year", "months": "month",
    "decades": "decade", "centuries": "century",
}  # fmt: skip
_UNIT_WORDS = sorted([*_UNITS, *_ALIASES], key=len, reverse=True)
_NUMBER = r"\d+(?:\.\d+)?"
_QUANTITY = re.compile(rf"({_NUMBER})\s*({'|'.join(_UNIT_WORDS)})\b", re.IGNORECASE)
_TARGET = re.compile(rf"\s+(?:in|to|into|as)\s+({'|'.join(_UNIT_WORDS)})\s*\??$", re.IGNORECASE)
_PERCENT_OF = re.compile(rf"({_NUMBER})\s*(?:%|percent)\s+of\s+", re.IGNORECASE)
_PERCENT = re.compile(rf"({_NUMBER})\s*(?:%|percent)", re.IGNORECASE)
_WORD_OPS = [
    (re.compile(r"\b(?:multiplied by|times)\b|(?<=[\d)\s])[x×](?=\s*[\d(])", re.IGNORECASE), "*"),
    (re.compile(r"\bdivided by\b|÷", re.IGNORECASE), "/"),
    (re.compile(r"\bplus\b", re.IGNORECASE), "+"),
    (re.compile(r"\bminus\b", re.IGNORECASE), "-"),
    (re.compile(r"\^"), "**"),
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),  # 1,200 -> 1200
]
_FUNCTIONS = {"abs": abs, "round": round, "sqrt": math.sqrt, "min": min, "max": max}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class CalculatorError(ToolException):
    """The expression cannot be computed; the message says why."""


@dataclass(frozen=True)
class Quantity:
    """A number with a time dimension: ``time`` is 0 (plain number) or 1 (a duration in seconds)."""

    value: float
    time: int = 0


@dataclass(frozen=True)
class Calculation:
    """What the calculator computed: the normalized expression, the number and the text shown."""

    expression: str
    value: float
    unit: str
    text: str


def _unit(word: str) -> str:
    word = word.lower()
    return _ALIASES.get(word, word)


def _rewrite(expression: str) -> tuple[str, str | None]:
    """Turn the accepted notation into a Python expression over numbers and unit names."""
    text = expression.strip().rstrip("?=").strip()
    target = None
    if match := _TARGET.search(text):
        target = _unit(match.group(1))
        text = text[: match.start()]
    for pattern, replacement in _WORD_OPS:
        text = pattern.sub(replacement, text)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    # "200 + 10%" means 200 increased by 10 %; a bare "10%" elsewhere is 0.1.
    text = re.sub(rf"({_NUMBER})\s*([+-])\s*({_NUMBER})\s*%", r"(\1\2\1*\3/100)", text)
    text = _PERCENT.sub(r"(\1/100)", text)
    text = _QUANTITY.sub(lambda m: f"({m.group(1)}*{_unit(m.group(2))})", text)
    return text, target


def _check(value: float) -> float:
    if isinstance(value, complex) or math.isnan(value) or abs(value) > MAX_MAGNITUDE:
        raise CalculatorError("the result is out of range (more than 1e30 or not a real number)")
    return value


def _evaluate(node: ast.AST) -> Quantity:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Quantity(_check(float(node.value)))
    if isinstance(node, ast.Name):
        if node.id in _UNITS:
            return Quantity(_UNITS[node.id], 1)
        raise CalculatorError(f"unknown name {node.id!r}: use numbers, + - * / ** %, and units of time")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _evaluate(node.operand)
        return Quantity(-inner.value if isinstance(node.op, ast.USub) else inner.value, inner.time)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        op = type(node.op)
        if op in (ast.Add, ast.Sub, ast.Mod, ast.FloorDiv) and left.time != right.time:
            raise CalculatorError("cannot add or subtract a duration and a plain number")
        if op is ast.Pow:
            if right.time or left.time:
                raise CalculatorError("exponents of durations are not supported")
            if abs(right.value) > MAX_EXPONENT:
                raise CalculatorError(f"exponent too large (at most {MAX_EXPONENT})")
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and right.value == 0:
            raise CalculatorError("division by zero")
        time = {ast.Mult: left.time + right.time, ast.Div: left.time - right.time}.get(op, left.time)
        if time not in (0, 1):
            raise CalculatorError("only durations and plain numbers are supported (no time squared)")
        try:
            value = _BINARY[op](left.value, right.value)
        except (OverflowError, ValueError, ZeroDivisionError) as error:
            raise CalculatorError(f"cannot compute: {error}") from None
        return Quantity(_check(value), time)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords or not 1 <= len(node.args) <= 4:
            raise CalculatorError(f"{node.func.id}() takes one to four plain arguments")
        args = [_evaluate(a) for a in node.args]
        if any(a.time for a in args):
            raise CalculatorError(f"{node.func.id}() takes plain numbers")
        try:
            values = [a.value for a in args]
            if node.func.id == "round" and len(values) == 2:
                values[1] = int(values[1])
            return Quantity(_check(float(_FUNCTIONS[node.func.id](*values))))
        except (TypeError, ValueError) as error:
            raise CalculatorError(f"{node.func.id}(): {error}") from None
    raise CalculatorError(f"unsupported syntax: {type(node).__name__}")


def _format(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}" if abs(value) >= 1e15 or abs(value) < 1e-4 else f"{round(value, 6):g}"


def calculate(expression: str) -> Calculation:
    """Compute ``expression``; raises :class:`CalculatorError` with a clear message when it cannot."""
    if not expression or not expression.strip():
        raise CalculatorError("empty expression")
    if len(expression) > MAX_CHARS:
        raise CalculatorError(f"expression too long ({len(expression)} characters, at most {MAX_CHARS})")
    python, target = _rewrite(expression)
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError:
        raise CalculatorError(f"cannot parse {expression!r} as arithmetic") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculatorError(f"expression too complex (more than {MAX_NODES} parts)")
    result = _evaluate(tree)
    if result.time:
        unit = target or _first_unit(python)
        value = result.value / _UNITS[unit]
        shown = f"{_format(value)} {unit}{'' if value == 1 else 's'}"
    else:
        if target:
            raise CalculatorError(f"the result is a plain number, not a duration in {target}s")
        unit, value = "", result.value
        shown = _format(value)
    return Calculation(expression.strip(), value, unit, f"{expression.strip()} = {shown}")


def _first_unit(python: str) -> str:
    names = [n for n in re.findall(r"[a-z]+", python) if n in _UNITS]
    return names[0] if names else "second"


@tool(response_format="content_and_artifact")
def calculator(expression: str) -> tuple[str, dict]:
    """Compute arithmetic exactly: + - * / ** %, percentages ("15% of 240") and units of time
    ("3 hours + 20 minutes in minutes"). Use it for any number the answer must compute."""
    result = calculate(expression)
    return result.text, {
        "expression": result.expression,
        "value": result.value,
        "unit": result.unit,
        "text": result.text,
    }
