"""The judge shipped in the package, on cases a user meets: it picks the sentence that answers over the
ones near it, finds the short answer, abstains when the passages do not answer, and tells a claim its
source states from one it does not. Also ``citegraph.verify`` and ``citegraph verify``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import citegraph
from citegraph.agents.answerer import extractive_answer
from citegraph.agents.verifier import Verifier
from citegraph.models.judge.judge import SHIPPED_JUDGE, Judge
from citegraph.retrieval.store import Hit
from citegraph.retrieval.tokenizer import tokenize

PASSAGE = (
    "Installation. The client library supports Python 3.9 and later. "
    "To set a timeout, pass timeout=5.0 when you create the client; the default timeout is five seconds. "
    "Timeouts can also be configured per request. "
    "The project is maintained by a small team of volunteers."
)
OPERA = (
    "Irene Adler is a character in the Sherlock Holmes stories. She was an opera singer. "
    "Adler was born in New Jersey in 1858. She later retired to London."
)


def _hits(*texts: str) -> list[Hit]:
    return [
        Hit(f"c{i}", t, f"s{i}", f"doc{i}.md", f"doc{i}", 0, len(t), None, 1.0) for i, t in enumerate(texts)
    ]


class _Store:
    """What ``extractive_answer`` needs of a store: the embedder, a source lookup and BM25 document
    frequencies over ``documents`` (none given: every term equally rare)."""

    def __init__(self, embedder, documents: tuple[str, ...] = ()) -> None:
        self.embedder = embedder
        self.terms = [set(tokenize(d)) for d in documents]

    def source(self, source_id: str) -> None:
        return None

    def bm25_document_frequency(self, terms: list[str]) -> dict[str, int]:
        return {t: n for t in terms if (n := sum(t in d for d in self.terms))}

    def __len__(self) -> int:
        return max(len(self.terms), 10)


def test_the_shipped_judge_is_small_and_has_a_card() -> None:
    size = sum(p.stat().st_size for p in SHIPPED_JUDGE.iterdir() if p.is_file())
    assert size <= 25 * 1024 * 1024
    assert (SHIPPED_JUDGE / "MODEL_CARD.md").is_file()


def test_it_answers_with_the_sentence_that_answers(judge: Judge, embedder) -> None:
    answer = extractive_answer("How do I set a timeout?", _hits(PASSAGE), _Store(embedder), judge)
    assert not answer["abstained"]
    assert "timeout=5.0" in answer["answer"]
    assert "Installation" not in answer["answer"] and "volunteers" not in answer["answer"]

    born = extractive_answer("Where was Irene Adler born?", _hits(OPERA), _Store(embedder), judge)
    assert "New Jersey" in born["answer"]
    assert "New Jersey" in born.get("short_answer", "New Jersey")


def test_it_abstains_when_the_passages_do_not_answer(judge: Judge, embedder) -> None:
    answer = extractive_answer("What is the capital of Peru?", _hits(PASSAGE, OPERA), _Store(embedder), judge)
    assert answer["abstained"], answer["answer"]
    # It still says where it looked: sentences of the passages, quoted as written, cited by nothing.
    assert answer["closest"] and all(c["quote"] in PASSAGE + OPERA for c in answer["closest"])
    assert not answer["citations"] and "[" not in answer["answer"]


@pytest.mark.parametrize(
    ("claim", "supported"),
    [
        ("Irene Adler was an opera singer [1].", True),  # across two adjacent sentences
        ("Adler was a singer of opera [1].", True),  # paraphrase
        ("Adler was not born in New Jersey [1].", False),  # negation: every word is in the source
        ("Adler was born in Ohio in 1858 [1].", False),  # a name the source never mentions
    ],
)
def test_support_tells_what_the_source_says(judge: Judge, claim: str, supported: bool) -> None:
    assert Verifier(judge).verify(claim, {1: OPERA}).verified is supported


def test_public_verify_api_and_command(tmp_path: Path) -> None:
    result = citegraph.verify(
        "Adler was born in New Jersey [1]. Adler was not an opera singer [1].", {"1": OPERA}
    )
    assert [c.supported for c in result.checks] == [True, False]
    assert not result.verified

    (tmp_path / "answer.txt").write_text("Adler was born in New Jersey in 1858 [1].")
    (tmp_path / "sources.json").write_text(json.dumps({"1": OPERA}))
    command = [sys.executable, "-m", "citegraph.cli", "verify", "--answer", str(tmp_path / "answer.txt")]
    command += ["--sources", str(tmp_path / "sources.json"), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["verified"] and verdict["sentences"][0]["evidence_span"]["source"] == 1

    (tmp_path / "sources.json").write_text("[not json")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (
        done.returncode == 2 and "is not JSON" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    )


MANUAL = (
    "Putting a flag and its value on different lines is a matter of style. "
    "The `--color` flag accepts one of never, auto or always. "
    "The search can follow symbolic links with the `--follow` flag. "
    "Each flag's documentation says which other flags override it."
)


HTTP2 = (
    "The client speaks HTTP/1.1 by default. HTTP/2 support is optional: install the http2 extra and pass "
    "http2=True when you create the client. Connections are pooled and reused between requests."
)
HTTP3 = "Requests can also go over QUIC: pass http3=True to use HTTP/3, which needs the quic extra."
POOL = "The connection pool keeps at most 100 connections. Idle connections are closed after five seconds."
CLIENT_MANUAL = (HTTP2, HTTP3, POOL, "Timeouts default to five seconds for every operation.")


def test_it_abstains_when_the_passages_lack_what_the_question_asks_about(judge: Judge, embedder) -> None:
    # Passages about HTTP/2 are close to a question about HTTP/3, but none holds "3", its rarest term in
    # the store: the gate weighs the share of the question's weighted terms the passages hold. Given the
    # sentence that says it, it answers with that sentence.
    question = "How do I make the client use HTTP/3?"
    store = _Store(embedder, CLIENT_MANUAL)
    assert extractive_answer(question, _hits(HTTP2, POOL), store, judge)["abstained"]
    told = extractive_answer(question, _hits(HTTP2, HTTP3), store, judge)
    assert not told["abstained"] and "http3=True" in told["answer"]


def test_a_sentence_naming_the_option_asked_about_answers(judge: Judge, embedder) -> None:
    # The bi-encoder reads "--follow" as the word "follow": the sentence naming the option goes first and
    # is close enough to answer, whatever its cosine.
    answer = extractive_answer("What does the --follow flag do?", _hits(MANUAL), _Store(embedder), judge)
    assert not answer["abstained"]
    assert "symbolic links" in answer["answer"] and "--color" not in answer["answer"]


def test_a_question_asking_how_many_is_not_answered_without_a_number(judge: Judge, embedder) -> None:
    told = (
        "The master keeps several replicas of each chunk. By default it keeps three replicas of each chunk."
    )
    untold = "The master keeps several replicas of each chunk. Replicas are spread across racks for safety."
    question = "How many replicas of each chunk does the master keep by default?"
    assert "three replicas" in extractive_answer(question, _hits(told), _Store(embedder), judge)["answer"]
    assert extractive_answer(question, _hits(untold), _Store(embedder), judge)["abstained"]


def test_a_question_asking_for_a_default_is_not_answered_by_text_naming_none(judge: Judge, embedder) -> None:
    keep_alive = (
        "The `--timeout-keep-alive` option closes idle connections after this many seconds. "
        "Defaults to 5 seconds. Connections are reused between requests."
    )
    told = extractive_answer(
        "What is the default keep-alive timeout?", _hits(keep_alive), _Store(embedder), judge
    )
    assert not told["abstained"] and "Defaults to 5 seconds" in told["answer"]
    shutdown = (
        "The `--timeout-graceful-shutdown` option sets the maximum number of seconds to wait for shutdown. "
        "During a shutdown, responses and tasks must still complete within the configured timeout."
    )
    untold = "What is the default value of --timeout-graceful-shutdown?"
    assert extractive_answer(untold, _hits(shutdown), _Store(embedder), judge)["abstained"]


CLIENT_DOCS = """You can use the client to make requests against your application.

For example, to set headers on the client you can do:

```python
client = Client(app)

# Set headers on the client for future requests
client.headers = {"Authorization": "secret"}
response = client.get("/")
```

And to send files with the client:

```python
client = Client(app)

# Send a single file
with open("example.txt", "rb") as f:
    response = client.post("/form", files={"file": f})
```

For more information you can check the documentation."""


def test_a_code_answer_is_quoted_whole_with_its_introduction_and_verified(judge: Judge, embedder) -> None:
    answer = extractive_answer(
        "How do I send a file with the client?", _hits(CLIENT_DOCS), _Store(embedder), judge
    )
    assert not answer["abstained"]
    text = answer["answer"]
    assert "And to send files with the client: ```python\nclient = Client(app)\n" in text  # lines kept
    assert 'files={"file": f})\n``` [1]' in text  # the whole block, one marker
    sources = {c["n"]: c["quote"] for c in answer["citations"]}
    assert Verifier(judge).verify(text, sources).verified


def test_threads_asking_for_a_judge_at_once_share_one_load(tmp_path: Path) -> None:
    # A server's first requests arrive together: racing loads once failed in transformers' lazy imports
    # ("cannot import name 'BertConfig'"), and each load costs memory.
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from citegraph.models.judge.judge import judge_at

    folder = shutil.copytree(SHIPPED_JUDGE, tmp_path / "judge")
    with ThreadPoolExecutor(4) as pool:
        judges = list(pool.map(lambda _: judge_at(str(folder)), range(4)))
    assert all(j is judges[0] for j in judges)
