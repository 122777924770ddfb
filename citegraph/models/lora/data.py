"""SFT data for the ``answer`` adapter: question + numbered sources -> an answer whose sentences cite [n].

Every example is rendered with ``prompts.answer_messages`` (THE answer prompt) so the adapter is trained on
exactly what the answer agent sends at run time. Two sources of examples:

* SQuAD-format data (XQuAD): the gold paragraph's answer sentence with a neighbour or two is one source, a
  passage of another paragraph is the distractor, in random order; the target is the answer sentence with
  its marker. A share of questions get only distractors and the abstention as target. Paragraphs are split
  into train / held-out once, by a seeded shuffle, so the benchmark scores questions on unseen paragraphs.
* A user's ingested corpus: the ``rag`` retrieval of each question numbered as the generate strategy shows
  it, with the extractive answer (renumbered to those sources, verified sentences only) as target.

Records are JSON lines ``{"messages": [{"role", "content"}...], "answer": str, "meta": {...}}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from citegraph.agents.prompts import Source, answer_messages
from citegraph.answers import ABSTAIN_TEXT, swap_markers
from citegraph.ingest.chunking import sentence_spans

if TYPE_CHECKING:
    from citegraph.agents.verifier import Verifier
    from citegraph.retrieval.pipeline import RetrievalPipeline

IGNORE_INDEX = -100  # label of tokens that carry no loss (prompt, padding)
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD paragraph with its questions: (question, [gold answer texts], first answer start)."""

    title: str
    index: int  # position within its article
    context: str
    questions: tuple[tuple[str, tuple[str, ...], int], ...]


@dataclass(frozen=True)
class QAItem:
    """One question with the sources shown and what a right answer is (empty golds: unanswerable)."""

    question: str
    sources: tuple[Source, ...]
    golds: tuple[str, ...]
    target: str  # the SFT answer: cited answer sentence, or the abstention

    @property
    def answerable(self) -> bool:
        return bool(self.golds)

    def messages(self) -> list[BaseMessage]:
        return answer_messages(self.question, list(self.sources))

    def record(self) -> dict[str, Any]:
        return {
            "messages": messages_as_dicts(self.messages()),
            "answer": self.target,
            "meta": {"question": self.question, "golds": list(self.golds)},
        }


def messages_as_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as chat-template dicts (``role`` system/user/assistant)."""
    return [{"role": _ROLES[m.type], "content": str(m.content)} for m in messages]


# -- SQuAD -> paragraphs -> split --------------------------------------------------------------------------


def read_squad(path: Path) -> list[Paragraph]:
    """Paragraphs of a SQuAD-format JSON file (v1 or v2; unanswerable questions are skipped)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    paragraphs = []
    for article in data["data"]:
        for i, p in enumerate(article["paragraphs"]):
            qas = tuple(
                (qa["question"], tuple(a["text"] for a in qa["answers"]), qa["answers"][0]["answer_start"])
                for qa in p["qas"]
                if qa.get("answers")
            )
            paragraphs.append(Paragraph(article.get("title", "document"), i, p["context"], qas))
    return paragraphs


def split_paragraphs(
    paragraphs: Sequence[Paragraph], held_out: float = 0.25, seed: int = 0
) -> tuple[list[Paragraph], list[Paragraph]]:
    """(train, held-out) paragraphs by a seeded shuffle; the same arguments always give the same split."""
    order = list(range(len(paragraphs)))
    random.Random(seed).shuffle(order)
    cut = round(len(order) * held_out)
    held = sorted(order[:cut])
    train = sorted(order[cut:])
    return [paragraphs[i] for i in train], [paragraphs[i] for i in held]


# -- passages ----------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def _clause_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``sentence`` between commas, semicolons and colons that are not
    inside brackets or quotes (cutting "(19,950 km2)" or a quotation in half would garble the answer)."""
    spans, start, depth, quoted = [], 0, 0, False
    for i, ch in enumerate(sentence):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch in '"“”':
            quoted = not quoted
        elif ch in ",;:" and depth == 0 and not quoted:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(sentence):
        spans.append((start, len(sentence)))
    return spans or [(0, len(sentence))]


def answer_clause(sentence: str, offset: int, min_words: int = 8) -> str:
    """The comma/semicolon-delimited clause of ``sentence`` holding character ``offset``, widened with its
    neighbours to at least ``min_words`` words, ending in a full stop. A short answer still quotes the
    source, so the verifier can check it, and it is cheaper to learn and to generate than the sentence."""
    pieces = _clause_spans(sentence)
    at = next((i for i, (a, b) in enumerate(pieces) if a <= offset < b), 0)
    lo = hi = at

    def words(a: int, b: int) -> int:
        return len(sentence[pieces[a][0] : pieces[b][1]].split())

    while words(lo, hi) < min_words and (lo > 0 or hi < len(pieces) - 1):
        hi, lo = (hi + 1, lo) if hi < len(pieces) - 1 and (lo == 0 or hi - at <= at - lo) else (hi, lo - 1)
    clause = sentence[pieces[lo][0] : pieces[hi][1]].strip().rstrip(",;:").strip()
    clause = clause[0].upper() + clause[1:] if clause else clause
    return clause if clause.endswith((".", "!", "?", '"', "”")) else clause + "."


def answer_window(context: str, answer_start: int, max_words: int = 60) -> tuple[str, str]:
    """(window, answer clause): the sentence holding ``answer_start`` plus neighbours up to ``max_words``,
    and the clause of that sentence holding the answer (``answer_clause``)."""
    spans = sentence_spans(context) or [(0, len(context))]
    at = next((i for i, (a, b) in enumerate(spans) if a <= answer_start < b), len(spans) - 1)
    chosen = [at]
    words = len(context[spans[at][0] : spans[at][1]].split())
    for step in range(1, len(spans)):  # alternately the next and the previous sentence
        for j in (at + step, at - step):
            if 0 <= j < len(spans):
                extra = len(context[spans[j][0] : spans[j][1]].split())
                if words + extra > max_words:
                    continue
                chosen.append(j)
                words += extra
    chosen.sort()
    window = " ".join(_clean(context[spans[j][0] : spans[j][1]]) for j in chosen)
    a, b = spans[at]
    # Offsets survive whitespace cleaning only approximately; clean after locating the clause.
    clause = answer_clause(context[a:b], max(answer_start - a, 0))
    return window, _clean(clause)


def random_window(context: str, rng: random.Random, max_words: int = 45) -> str:
    """A run of consecutive sentences of ``context`` from a random start, up to ``max_words``."""
    spans = sentence_spans(context) or [(0, len(context))]
    first = rng.randrange(len(spans))
    picked: list[str] = []
    for a, b in spans[first:]:
        sentence = _clean(context[a:b])
        if picked and len(" ".join(picked).split()) + len(sentence.split()) > max_words:
            break
        picked.append(sentence)
    return " ".join(picked)


def _source(n: int, paragraph: Paragraph, text: str) -> Source:
    return Source(n=n, source=paragraph.title, location=f"paragraph {paragraph.index + 1}", text=text)


def cited(sentence: str, n: int) -> str:
    """``sentence`` with the marker [n] before its closing punctuation ("X [1]." , 'said "Y [1]."')."""
    body = sentence.rstrip(".!?\"'”’ ")
    return f"{body} [{n}]{sentence[len(body) :].strip() or '.'}"


def squad_items(
    paragraphs: Sequence[Paragraph],
    seed: int = 0,
    unanswerable_share: float = 0.15,
    limit: int | None = None,
    max_words: int = 50,
    distractor_words: int = 35,
) -> list[QAItem]:
    """One item per question: its answer window and a distractor passage (random order), or with
    probability ``unanswerable_share`` two distractors and the abstention as target. Shuffled, seeded."""
    if len(paragraphs) < 3:
        raise ValueError("need at least three paragraphs (a gold one and distractors from others)")
    rng = random.Random(seed)
    items = []
    for p_index, paragraph in enumerate(paragraphs):
        for question, golds, start in paragraph.questions:
            others = [i for i in rng.sample(range(len(paragraphs)), 3) if i != p_index][:2]
            distractors = [
                (paragraphs[i], random_window(paragraphs[i].context, rng, distractor_words)) for i in others
            ]
            if rng.random() < unanswerable_share:
                sources = tuple(_source(n, p, text) for n, (p, text) in enumerate(distractors, start=1))
                items.append(QAItem(question, sources, (), ABSTAIN_TEXT))
                continue
            window, clause = answer_window(paragraph.context, start, max_words)
            shown = [(paragraph, window), distractors[0]]
            rng.shuffle(shown)
            sources = tuple(_source(n, p, text) for n, (p, text) in enumerate(shown, start=1))
            gold_n = next(s["n"] for s in sources if s["text"] == window)
            items.append(QAItem(question, sources, golds, cited(clause, gold_n)))
    rng.shuffle(items)
    return items[:limit] if limit else items


# -- a user's corpus ---------------------------------------------------------------------------------------


def corpus_item(
    question: str, pipeline: RetrievalPipeline, verifier: Verifier, top_k: int = 3
) -> QAItem | None:
    """An SFT item from the user's store: the retrieved chunks numbered as the generate strategy shows them,
    the extractive answer renumbered to them as target (unsupported sentences dropped; the abstention when
    the extractive answerer abstains). None when no sentence of a non-abstaining answer survives."""
    from citegraph.agents.answerer import chunk_citation, extractive_answer, numbered_sources
    from citegraph.agents.verifier import checked

    store = pipeline.store
    hits = pipeline.run(question, k=top_k).selected
    shown = [chunk_citation(n, hit, store) for n, hit in enumerate(hits, start=1)]
    sources = tuple(numbered_sources(shown))
    draft = extractive_answer(question, hits, store, verifier.judge)
    if draft["abstained"]:
        return QAItem(question, sources, (), ABSTAIN_TEXT)
    chunk_n = {c["chunk_id"]: c["n"] for c in shown}
    by_marker = {c["n"]: chunk_n[c["chunk_id"]] for c in draft["citations"] if c["chunk_id"] in chunk_n}
    text = swap_markers(draft["answer"], lambda n: by_marker.get(n, 0))
    verification = verifier.verify(text, {s["n"]: s["text"] for s in sources})
    kept = checked({**draft, "answer": text, "citations": shown}, verification)  # type: ignore[typeddict-item]
    if kept["abstained"]:
        return None
    golds = tuple(c["quote"] for c in draft["citations"])
    return QAItem(question, sources, golds, kept["answer"])


def corpus_items(
    questions: Iterable[str], pipeline: RetrievalPipeline, verifier: Verifier, top_k: int = 3
) -> list[QAItem]:
    """``corpus_item`` for every non-empty question, skipping those with no verified answer."""
    items = (corpus_item(q.strip(), pipeline, verifier, top_k) for q in questions if q.strip())
    return [item for item in items if item is not None]


# -- files and tokenization --------------------------------------------------------------------------------


def write_jsonl(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Write records as JSON lines; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of an SFT JSON-lines file (each needs ``messages`` and ``answer``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"SFT data file does not exist: {path}")
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record.get("messages"), list) or not isinstance(record.get("answer"), str):
            raise ValueError(f"{path}:{number}: a record needs 'messages' (list) and 'answer' (str)")
        records.append(record)
    return records


def render_example(
    tokenizer: Any, messages: list[dict[str, str]], answer: str
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of prompt + answer through the tokenizer's chat template; labels are
    IGNORE_INDEX on the prompt, so the loss is on the answer tokens (and the end-of-turn) only.

    The prompt is rendered with ``add_generation_prompt=True``, exactly as at inference time.
    """
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": answer}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently once the answer follows it")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [IGNORE_INDEX] * len(prompt_ids) + answer_ids
