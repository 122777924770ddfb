"""Standalone questions from a conversation: a follow-up that says "it" or "What about reads?" is rewritten
with the thread's earlier turns into a question retrieval can answer on its own.

Rules first (no LLM): a pronoun or deictic word ("How does it handle leader failure?") is replaced by the
main entity of the previous question ("What is Raft?" -> "Raft"), or, after a "Who ...?" question, by the
person the previous answer names ("she" -> "Marta Vance"); an elliptical question ("How about Paxos?",
"What about reads?", "Why?") is combined with the previous question. A chat model may rewrite instead
(``llm_standalone``); its reply is used only when it is a usable single question.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from citegraph.agents.prompts import condense_messages
from citegraph.answers import says_documents_do_not_answer, strip_markers
from citegraph.retrieval.multi_query import parse_lines
from citegraph.state import Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# Earlier turns a follow-up is resolved through: "What is Raft?" / "How does it elect?" / "Why?" needs two.
MAX_TURNS = 4

_WORD = re.compile(r"[\w][\w'’\-.]*[\w]|[\w]|[^\w\s]")
_SUBJECT = {"it", "they", "he", "she", "him", "them"}
_POSSESSIVE = {"its", "their", "his"}
_DEMONSTRATIVE = {"this", "that", "these", "those"}
_PERSONAL = {"he", "she", "him", "his", "her", "hers"}
_PLURAL = {"they", "them", "their", "these", "those"}
_TITLES = {"dr", "mr", "mrs", "ms", "prof", "st", "sir", "lady", "lord", "captain", "colonel"}
# "Who is Irene Adler?": the person is in the question, not in the answer.
_WHO_IS = re.compile(r"^who(?:m)?\s+(?:is|was|are|were)\s+", re.IGNORECASE)
_AUX = set("is are was were be been do does did can could will would should shall may might must".split())
_AUX |= {"has", "have", "had"}
_WH = {"what", "who", "whom", "whose", "which", "how", "why", "when", "where"}
_PREPOSITIONS = set(
    "of in on at to for with from by about into over under between during after before".split()
)
# Words that end a lowercase noun phrase (no part-of-speech tagger: these are the usual next words).
_NP_STOP = _AUX | _WH | _PREPOSITIONS | set("and or but if than then not".split())
# Capitalised words that are no name: a question's first word, "I", and sentence-initial pronouns.
_NOT_NAMES = _WH | _AUX | _SUBJECT | _POSSESSIVE | _DEMONSTRATIVE | set("i the a an and or but in on".split())
_ELLIPSIS_ABOUT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]*$", re.IGNORECASE)
_ELLIPSIS_AND = re.compile(r"^and\s+(?P<x>.+?)\s*[?.!]*$", re.IGNORECASE)
_BARE_WH = re.compile(r"^(?:and\s+)?(?P<wh>why|how|when|where)(?:\s+so)?\s*[?.!]*$", re.IGNORECASE)
_LABEL = re.compile(r"^(?:standalone|rewritten|last)?\s*question\s*:\s*", re.IGNORECASE)
# At most this many words after "And": "And the GFS one?" is elliptical, "And then ... ?" a full question.
_AND_WORDS = 4


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for token in _WORD.findall(text):
        # "System's" is the name "System" and a possessive: a resolved question is resolved again later.
        if len(token) > 2 and token[-2] in "'’" and token[-1] in "sS":
            tokens += [token[:-2], token[-2:]]
        else:
            tokens.append(token)
    return tokens


def _is_word(token: str) -> bool:
    return token[0].isalnum()


def _capitalised(token: str) -> bool:
    return _is_word(token) and token[0].isupper()


def _name_runs(text: str, skip: str = "") -> list[tuple[int, int, list[str]]]:
    """Runs of capitalised words (names: "Raft", "Google File System", "Korda-7"), with token positions."""
    tokens = _tokens(text)
    skipped = _NOT_NAMES | {w.lower() for w in _tokens(skip)}  # names the previous question already said

    def name(token: str) -> bool:
        return _capitalised(token) and token.lower() not in skipped

    def title_dot(k: int) -> bool:  # the "." of "Dr. Watson" belongs to the name
        return (
            tokens[k] == "."
            and tokens[k - 1].lower() in _TITLES
            and k + 1 < len(tokens)
            and name(tokens[k + 1])
        )

    runs: list[tuple[int, int, list[str]]] = []
    i = 0
    while i < len(tokens):
        if name(tokens[i]):
            j = i
            while j + 1 < len(tokens) and (name(tokens[j + 1]) or title_dot(j + 1)):
                j += 1
            runs.append((i, j, tokens))
            i = j + 1
        else:
            i += 1
    return runs


def _lowercase_phrase(tokens: list[str]) -> str:
    """The noun phrase a question is about when it names nothing: after the last "of", else after the first
    "the"/"a"/"an", else after a copula ("What is consensus?" -> "consensus")."""
    words = [t for t in tokens if _is_word(t)]
    lower = [w.lower() for w in words]
    start = None
    if "of" in lower:
        start = len(lower) - 1 - lower[::-1].index("of") + 1
    else:
        for i, w in enumerate(lower):
            if w in ("the", "a", "an") or (w in ("is", "are", "was", "were") and i <= 1):
                start = i + (0 if w == "the" else 1)
                break
    if start is None or start >= len(words):
        return ""
    phrase: list[str] = []
    for w in words[start:]:
        if w.lower() in _NP_STOP or len(phrase) == 4:
            break
        phrase.append(w)
    body = [w for w in phrase if w.lower() != "the"]
    if not body:
        return ""
    subject = start > 0 and lower[start - 1] in _AUX - {"is", "are", "was", "were"}
    if subject or start + len(phrase) < len(words):
        # The subject of a verb ("How does the leader handle failures?"), or more words follow: without a
        # tagger, the first noun after the article is the safest guess.
        phrase = phrase[:2] if phrase[0].lower() == "the" else phrase[:1]
    return " ".join(phrase)


def main_entity(question: str) -> str:
    """What a question is about: its longest capitalised name ("How does the Google File System store
    chunks?" -> "Google File System"; "Who kept the Hollowell lighthouse?" -> "the Hollowell lighthouse"),
    else its main lowercase noun phrase ("What is the role of the leader?" -> "the leader"); "" if none."""
    runs = _name_runs(question)
    tokens = _tokens(question)
    if not runs:
        return _lowercase_phrase(tokens)
    i, j, _ = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
    words = tokens[i : j + 1]
    # "the Hollowell lighthouse": a name before the question's last noun is that noun's modifier.
    if i > 0 and tokens[i - 1].lower() == "the" and j + 2 < len(tokens):
        after, then = tokens[j + 1], tokens[j + 2]
        if _is_word(after) and after.islower() and after not in _NP_STOP and not _is_word(then):
            return _join(["the", *words, after])
    return _join(words)


def plural_subject(question: str) -> str:
    """The plural thing a standalone question asks about, for "they"/"them" later: "What are backup tasks
    in MapReduce?" -> "backup tasks in MapReduce", "What is a term in Raft?" -> "terms in Raft"; "" if
    the question asks about no lowercase noun phrase."""
    words = [t for t in _tokens(question) if _is_word(t)]
    lower = [w.lower() for w in words]
    for i, w in enumerate(lower[:3]):
        if w in ("is", "are", "was", "were"):
            article = i + 1 < len(lower) and lower[i + 1] in ("a", "an", "the")
            start = i + 1 + int(article)
            phrase = []
            for word in words[start:]:
                if word.lower() in _NP_STOP or _capitalised(word) or len(phrase) == 3:
                    break
                phrase.append(word)
            if not phrase:
                return ""
            if not phrase[-1].endswith("s"):
                if not article:
                    return ""
                phrase[-1] += "s"  # "a term" -> "terms"
            rest = words[start + len(phrase) :]
            names = [n for n in _name_runs(question) if n[0] > 0]
            if rest and rest[0].lower() in ("in", "of") and names:
                i2, j2, tokens = names[-1]
                return " ".join([*phrase, rest[0].lower(), _join(tokens[i2 : j2 + 1])])
            return " ".join(phrase)
    return ""


def _named_in_answer(turn: Turn) -> str:
    """The name an answer gives (the person "she" means after "Who kept the lighthouse?"), or ""."""
    text = strip_markers(turn["answer"])
    if says_documents_do_not_answer(text):
        return ""
    # A person's name has two words ("Marta Vance") or opens the answer ("Ongaro designed ..."); a lone
    # capitalised word elsewhere is more often a place or a ship.
    runs = [r for r in _name_runs(text, skip=turn["question"]) if r[1] > r[0] or r[0] == 0]
    if not runs:
        return ""
    i, j, tokens = runs[0]
    return " ".join(tokens[i : j + 1])


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r"\s+([?.!,;:)])", r"\1", text)
    return re.sub(r"\s+(['’]s)\b", r"\1", text)


def _referent(question: str) -> str:
    """The token a follow-up leans on ("it", "her", "this", "there"), or "" for a standalone question.
    A pronoun after the question's own name refers to that name ("When did Raft appear and who made
    it?"), so such a question is already standalone."""
    tokens = _tokens(question)
    own = {n for i, j, _ in _name_runs(question) for n in range(i, j + 1)}
    for k, token in enumerate(tokens):
        low = token.lower()
        before = tokens[k - 1].lower() if k else ""
        after = tokens[k + 1].lower() if k + 1 < len(tokens) else ""
        deictic = (
            low in _SUBJECT | _POSSESSIVE | {"her", "hers"}
            or (low in _DEMONSTRATIVE and (not _is_word(after) or after in _AUX or before in _AUX | _WH))
            or (low in _DEMONSTRATIVE and _is_word(after) and after not in _NP_STOP)
            or (low == "there" and before not in _AUX and after not in _AUX)
        )
        if deictic:
            return "" if any(i < k for i in own) else low
    return ""


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the conversation (a pronoun or deictic, or an elliptical question)."""
    q = question.strip()
    if _BARE_WH.match(q) or _ELLIPSIS_ABOUT.match(q):
        return True
    short_and = _ELLIPSIS_AND.match(q)
    if (
        short_and
        and len(short_and["x"].split()) <= _AND_WORDS
        and not _WH.intersection(short_and["x"].lower().split()[:1])
    ):
        return True
    return bool(_referent(q))


def _substitute(question: str, entity: str) -> str:
    """Every pronoun or deictic of ``question`` replaced by ``entity``."""
    tokens = _tokens(question)
    out: list[str] = []
    k = 0
    while k < len(tokens):
        token, low = tokens[k], tokens[k].lower()
        before = tokens[k - 1].lower() if k else ""
        after = tokens[k + 1] if k + 1 < len(tokens) else ""
        after_low = after.lower()
        if low in _POSSESSIVE or (low == "her" and _is_word(after) and after_low not in _NP_STOP):
            out.append(f"{entity}'s")
        elif low in _SUBJECT or low in ("her", "hers"):
            out.append(entity)
        elif low == "there" and before not in _AUX and after_low not in _AUX:
            out += ["at", entity] if before not in _PREPOSITIONS else [entity]
        elif low in _DEMONSTRATIVE and _is_word(after) and after_low not in _NP_STOP:
            # "that bridge" -> "Kestrel bridge"; "this algorithm" -> "Raft algorithm"
            out.append(entity if after_low in entity.lower().split() else f"{entity} {after}")
            k += 1
        elif low in _DEMONSTRATIVE and (not _is_word(after) or after_low in _AUX or before in _AUX | _WH):
            out.append(entity)
        else:
            out.append(token)
        k += 1
    text = _join(out)
    return text[0].upper() + text[1:]


def _elliptical(question: str, previous: str, entity: str) -> str | None:
    """An elliptical follow-up combined with the previous (standalone) question, or None if not one."""
    q = question.strip()
    bare = _BARE_WH.match(q)
    if bare:
        wh = bare["wh"].capitalize()
        words = previous.split()
        rest = words[1:] if words and words[0].lower() in _WH else words
        if rest and rest[0].lower() in _AUX:
            return " ".join([wh, rest[0].lower(), *rest[1:]])
        return f"{previous} {q}"
    match = _ELLIPSIS_ABOUT.match(q)
    if not match:
        short_and = _ELLIPSIS_AND.match(q)
        if not short_and or len(short_and["x"].split()) > _AND_WORDS:
            return None
        match = short_and
    x = match["x"].strip()
    # "the GFS one" -> "GFS": the name stands in for the previous question's entity.
    x = re.sub(r"^(?:the|a|an)\s+|\s+ones?$", "", x, flags=re.IGNORECASE).strip() or match["x"].strip()
    if entity and _name_runs(x) and entity in previous:
        return previous.replace(entity, x, 1)
    if entity:
        return f"What about {x} in {entity}?"
    return f"{previous} {q}"


def rule_standalone(question: str, history: list[Turn]) -> str:
    """``question`` made standalone with the conversation by rules (unchanged when it already is)."""
    if not history or not is_follow_up(question):
        return question
    turns = history[-MAX_TURNS:]
    last = turns[-1]
    previous = rule_standalone(last["question"], turns[:-1])  # "Why?" after "How does it elect?" chains
    entity = main_entity(previous)
    combined = _elliptical(question, previous, entity)
    if combined is not None:
        return combined
    referent = _referent(question)
    if (
        referent in _PERSONAL
        and previous.split()[0].lower() in ("who", "whom")
        and not _WHO_IS.match(previous)
    ):
        entity = _named_in_answer(last) or entity
    if referent in _PLURAL:
        # "they" names what the conversation's last standalone question asked about in the plural.
        opening = next((t["question"] for t in reversed(turns) if not is_follow_up(t["question"])), "")
        entity = plural_subject(opening) or entity
    if not entity:
        return f"{previous} {question}"  # nothing to put in: search both, as before
    return _substitute(question, entity)


def llm_standalone(question: str, history: list[Turn], model: BaseChatModel, max_chars: int) -> str | None:
    """A chat model's standalone rewrite of ``question``, or None when it fails or replies with no usable
    single question (then the rules apply)."""
    turns = [(t["question"], strip_markers(t["answer"])) for t in history[-MAX_TURNS:]]
    try:
        reply = model.invoke(condense_messages(question, turns), config={"tags": ["citegraph:condense"]})
    except Exception:  # a flaky model must never break the conversation: the rules still answer
        return None
    lines = parse_lines(str(getattr(reply, "content", reply)), max_chars, limit=1)
    # Small models echo the prompt's label ("Standalone question: ...").
    lines = [_LABEL.sub("", line).strip() for line in lines]
    if not lines or says_documents_do_not_answer(lines[0]):
        return None
    return lines[0]


def standalone_question(
    question: str, history: list[Turn], model: BaseChatModel | None = None, max_chars: int = 2000
) -> str:
    """The question to search with: ``question`` itself unless it is a follow-up of ``history``, then its
    standalone form (the chat model's when one is given and it replies usably, else the rules')."""
    if not history or not is_follow_up(question):
        return question
    if model is not None:
        rewritten = llm_standalone(question, history, model, max_chars)
        if rewritten:
            return rewritten
    return rule_standalone(question, history)
