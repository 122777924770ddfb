"""Multi-query expansion: the original question plus variants that find what its wording alone misses.

Deterministic variants need no model: a keyword form (content words only, which helps the dense
retriever more than BM25), sub-questions of a compound question, and pseudo-relevance-feedback (PRF)
expansion terms taken from the first-pass top chunks. With a chat model configured, LLM paraphrases are
added; the parser tolerates numbering, bullets, quotes, preambles, JSON lists and code fences.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from citegraph.retrieval.tokenizer import make_tokenizer, tokenize, words

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

VariantKind = Literal["original", "spelling", "rewrite", "keywords", "subquestion", "paraphrase", "prf"]

_CONTENT = make_tokenizer(stem=False, stopwords=True)
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were does do did can could should would will "
    "there".split()
)
_WH = r"(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|does|do|did|can|could|should|will)"
# A compound question splits at "?" between questions, at ";", or at ", and/and" followed by a new
# question word ("What is X and how does it work?").
_SPLIT = re.compile(rf"(?<=\?)\s+|;\s*|,?\s+(?:and|but|or|also)\s+(?={_WH}\b)", re.IGNORECASE)
_LIST_MARK = re.compile(
    r"^\s*(?:[-*•·]+|\(?\d{1,2}[.):]|\(?[a-z][.)]|q\d*[.:)]|question\s*\d*[.:)])\s*", re.I
)
_LABEL = re.compile(
    r"^\W*(?:rewritten|paraphrased?|alternative|search|version|variant|query|question)(?:\s+(?:question|query))?"
    r"\s*\d*\W*?\s*[:\-–]\s*",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^(?:sure|okay|ok|certainly|here (?:are|is)|the following|alternative|paraphrase|rewritten|"
    r"search quer|variants?|versions?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Variant:
    """One query to search with: its text, where it came from, and how much its rankings count."""

    text: str
    kind: VariantKind
    weight: float
    # BM25 terms with weights; None: tokenize ``text``. PRF variants carry expansion terms here.
    terms: tuple[tuple[str, float], ...] | None = None
    dense: bool = True  # whether to run it through the dense retriever
    bm25: bool = True

    def bm25_terms(self) -> tuple[tuple[str, float], ...]:
        """The weighted BM25 terms, repeated terms merged."""
        if self.terms is not None:
            return self.terms
        counts = Counter(tokenize(self.text))
        return tuple(sorted(((t, float(c)) for t, c in counts.items()), key=lambda x: x[0]))


def keyword_form(question: str) -> str | None:
    """The question's content words in order (stop words and punctuation out), or None if that changes
    nothing or leaves fewer than two words."""
    terms = [t for t in _CONTENT(question) if t not in _QUESTION_WORDS]
    if len(terms) < 2:
        return None
    form = " ".join(terms)
    return None if form == " ".join(words(question)) else form


def is_question(text: str) -> bool:
    """Whether ``text`` asks something (ends with "?" or opens with a question word or an inverted
    auxiliary), as opposed to a statement or claim to check ("There is no link between X and Y.")."""
    first = words(text[:40])[:1]
    return text.rstrip().endswith("?") or (bool(first) and first[0] in _QUESTION_WORDS - {"there"})


def sub_questions(question: str, min_terms: int = 2) -> list[str]:
    """Parts of a compound question that each ask something on their own (at least ``min_terms`` content
    words); [] when the question is not compound."""
    parts = [p.strip(" ,;") for p in _SPLIT.split(question) if p and p.strip(" ,;")]
    parts = [p for p in parts if len(_CONTENT(p)) >= min_terms]
    return parts if len(parts) > 1 else []


def prf_terms(
    query_terms: Iterable[str],
    feedback: Sequence[str],
    document_frequency: Callable[[list[str]], dict[str, int]],
    n_docs: int,
    n_terms: int = 10,
) -> list[tuple[str, float]]:
    """Expansion terms from the feedback chunks (best first), RM3-style without a language model.

    Each feedback chunk votes for its terms with tf/length x idf, chunks earlier in the ranking count more
    (1/rank), and terms already in the query or too rare to trust (in one chunk only) are skipped.
    Returns up to ``n_terms`` (term, weight) with weights scaled so the best is 1.
    """
    if not feedback or n_terms <= 0:
        return []
    query = set(query_terms)
    per_doc = [Counter(t for t in tokenize(text) if not t.isdigit() and len(t) > 2) for text in feedback]
    vocabulary = sorted({t for counts in per_doc for t in counts} - query)
    if not vocabulary:
        return []
    df = document_frequency(vocabulary)
    scores: Counter[str] = Counter()
    for rank, counts in enumerate(per_doc, start=1):
        length = sum(counts.values()) or 1
        for term, tf in counts.items():
            freq = df.get(term, 0)
            if term in query or freq < 2:
                continue
            idf = math.log(1 + (n_docs - freq + 0.5) / (freq + 0.5))
            scores[term] += (tf / length) * idf / rank
    best = scores.most_common(n_terms)
    if not best:
        return []
    top = best[0][1]
    return [(t, s / top) for t, s in best]


def parse_lines(reply: str, max_chars: int, limit: int = 10) -> list[str]:
    """Questions from a model's messy reply: one per line or a JSON list; numbering, bullets, quotes,
    code fences and preambles ("Here are 3 versions:") stripped; empty and duplicate lines dropped."""
    text = reply.strip()
    text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    items: list[str] = []
    if text.startswith("["):
        try:
            loaded = json.loads(text)
            if isinstance(loaded, list):
                items = [str(x) for x in loaded if isinstance(x, str | int | float)]
        except json.JSONDecodeError:
            items = []
    if not items:
        items = text.splitlines()
    out: list[str] = []
    seen: set[str] = set()
    for raw in items:
        line = _LIST_MARK.sub("", raw.strip()).strip()
        if _PREAMBLE.match(line) and line.endswith(":"):
            continue  # "Here are three versions:"
        line = _LABEL.sub("", line).strip().strip("\"'“”‘’`*").strip()  # 'Rewritten: "..."' -> '...'
        if not line or (_PREAMBLE.match(line) and ":" in line):
            continue
        if len(line) > max_chars or not re.search(r"\w", line):
            continue
        key = " ".join(words(line))
        if key and key not in seen:
            seen.add(key)
            out.append(line)
        if len(out) >= limit:
            break
    return out


_PARAPHRASE_PROMPT = (
    "You help a search engine. Write {n} different versions of the question below, one per line, each "
    "using other words or naming related technical terms. Keep every name and number. Do not answer.\n\n"
    "Question: {question}"
)


def llm_paraphrases(question: str, model: BaseChatModel, n: int, max_chars: int) -> list[str]:
    """Up to ``n`` paraphrases from a chat model; [] when the model fails or replies with nothing usable."""
    try:
        reply = model.invoke(_PARAPHRASE_PROMPT.format(n=n, question=question))
    except Exception:  # a failing model must not stop retrieval: the deterministic variants still run
        return []
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        content = " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return parse_lines(str(content), max_chars, limit=n)


def dedupe_variants(variants: Iterable[Variant]) -> list[Variant]:
    """Drop variants whose words equal an earlier one's (case, punctuation and spacing ignored); the first
    (so the original, which comes first) wins."""
    out: list[Variant] = []
    seen: set[str] = set()
    for variant in variants:
        key = " ".join(words(variant.text))
        if variant.kind != "prf" and key in seen:
            continue
        seen.add(key)
        out.append(variant)
    return out


@dataclass(frozen=True)
class ExpansionConfig:
    """Which deterministic variants to make and how much each counts in fusion."""

    keywords: bool = True
    subquestions: bool = True
    keyword_weight: float = 0.5
    keywords_for_questions_only: bool = True
    subquestion_weight: float = 0.5
    paraphrase_weight: float = 0.5
    paraphrases: int = 3


def expand_query(
    original: str,
    extra: Sequence[tuple[str, VariantKind]] = (),
    config: ExpansionConfig | None = None,
    chat_model: BaseChatModel | None = None,
    max_chars: int = 2000,
) -> list[Variant]:
    """The original first (weight 1), then ``extra`` (spelling/rewrite), keyword form, sub-questions and
    LLM paraphrases, deduplicated."""
    config = config or ExpansionConfig()
    variants = [Variant(original, "original", 1.0)]
    variants += [Variant(text, kind, 1.0) for text, kind in extra]
    # A variant with weight 0 could not change the fused ranking: skip it (and its embedding cost).
    # The keyword form drops the question words a dense model embeds as noise; a statement has none, and
    # its keyword form only loses the function words the model reads (it cost nDCG on SciFact's claims).
    asks = is_question(original) or not config.keywords_for_questions_only
    if config.keywords and config.keyword_weight > 0 and asks and (form := keyword_form(original)):
        # For BM25 the keyword form is the original (same terms after stop words), so dense only.
        variants.append(Variant(form, "keywords", config.keyword_weight, bm25=False))
    if config.subquestions and config.subquestion_weight > 0:
        variants += [Variant(q, "subquestion", config.subquestion_weight) for q in sub_questions(original)]
    if chat_model is not None and config.paraphrases > 0 and config.paraphrase_weight > 0:
        variants += [
            Variant(p, "paraphrase", config.paraphrase_weight)
            for p in llm_paraphrases(original, chat_model, config.paraphrases, max_chars)
        ]
    return dedupe_variants(variants)
