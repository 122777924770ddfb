"""Which retrieved sentences the extract strategy may answer with (no model needed)."""

from __future__ import annotations

from citegraph.agents.answerer import candidate_sentences
from citegraph.retrieval.store import Hit


def hit(text: str, start: int = 100) -> Hit:
    return Hit("c1", text, "s1", "paper.pdf", "Paper", start, start + len(text), 3, 1.0)


def test_a_heading_glued_to_a_sentence_is_left_out_of_the_candidate() -> None:
    text = "Worker Failure\nThe master pings every worker periodically."
    (candidate,) = candidate_sentences([hit(text)])
    assert candidate.text == "The master pings every worker periodically."
    assert candidate.start == 100 + text.index("The master")
    # A line that merely wraps a sentence is not a heading.
    wrapped = "The master\nThen pings every worker that it knows about."
    assert candidate_sentences([hit(wrapped)])[0].text == wrapped


def test_figure_and_table_debris_never_answers() -> None:
    figure = "chunk locations) GFS master File namespace /foo/bar holds the chunk handle."
    table = "Cluster\nA\nB\nChunkservers\n342\n227\nAvailable disk space\n72 TB"
    code = "```python\nclient = httpx.Client(follow_redirects=True)\n```"
    prose = "A default partitioning function is provided that uses hashing (e.g. hash(key) mod R)."
    listed = "2) The master pings every worker periodically."
    found = candidate_sentences([hit(f"{figure}\n\n{table}\n\n{code}\n\n{prose}\n\n{listed}")])
    assert [c.text for c in found] == [code, prose, listed]
