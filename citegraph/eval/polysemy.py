"""Polysemy probe: can a representation tell the senses of one word apart?

A static representation gives a word type one vector, whatever sentence it sits in: the one-hot bag-of-words
vector, its TF-IDF column (which documents it occurs in) and its word2vec vector. Their nearest neighbours
are one list that mixes (or ignores) the senses. A contextual model (MiniLM here) gives each *occurrence*
its own vector, so "bank" beside a river and "bank" beside a mortgage land in different places.

For each probe word we write a few sentences per sense and measure, per representation, the mean cosine
between the word's vectors within a sense and across senses; the gap (within - across) is 0 for any
static vector and positive when a representation separates the senses; ``accuracy`` names each
occurrence's sense by the nearest sense centroid (leave one out; 0.5 is chance with two senses).
Two controls: ``minilm_layer0`` is MiniLM's input embedding (word piece + position, before any attention),
static in all but position; ``word2vec_context`` (the mean word2vec vector of the *other* words of the
sentence) shows where the sense information lives: in the context, which a contextual model folds into the
word's own vector.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from citegraph.eval.representations import (
    Word2VecConfig,
    mean_vector,
    sparse_vectorizer,
    train_word2vec,
    word_tokens,
)

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

# Written for this probe: three sentences per sense, the word used plainly in each.
PROBES: dict[str, dict[str, list[str]]] = {
    "bank": {
        "river": [
            "We had a picnic on the grassy bank of the river.",
            "The canoe drifted toward the muddy bank where the reeds grew.",
            "Floodwater spilled over the bank and covered the fields beside the stream.",
        ],
        "money": [
            "She deposited her salary at the bank on Monday.",
            "The bank raised its interest rate on mortgages and loans.",
            "He withdrew cash from his account at the bank downtown.",
        ],
    },
    "bat": {
        "animal": [
            "A bat flew out of the cave at dusk to hunt insects.",
            "The bat hung upside down from the roof of the barn.",
            "Each bat finds moths in the dark by echolocation.",
        ],
        "sport": [
            "He swung the bat and hit the ball over the fence.",
            "The cricket player gripped his bat and faced the bowler.",
            "She bought a new wooden bat for the baseball season.",
        ],
    },
    "java": {
        "island": [
            "Java is a crowded island of Indonesia with many volcanoes.",
            "We crossed Java by train from Jakarta to the rice terraces.",
            "The volcanoes of Java make the soil of the island fertile.",
        ],
        "programming": [
            "The server code is written in Java and compiled to bytecode.",
            "Java programs run on a virtual machine after compilation.",
            "She fixed a null pointer exception in the Java class.",
        ],
    },
    "spring": {
        "season": [
            "The flowers bloom in spring when the weather gets warmer.",
            "Birds fly north every spring after the long winter.",
            "In spring the days grow longer and the snow melts.",
        ],
        "coil": [
            "The spring in the old mattress was broken and squeaked.",
            "Compress the metal spring and release it to launch the ball.",
            "A coiled steel spring absorbs the shocks in the car suspension.",
        ],
    },
    "mouse": {
        "animal": [
            "The mouse nibbled the cheese and ran back into its hole.",
            "A grey mouse scurried across the kitchen floor at night.",
            "The cat chased a mouse through the tall grass.",
        ],
        "computer": [
            "Click the left button of the mouse to open the file.",
            "Move the mouse pointer over the icon on the screen.",
            "My wireless mouse needs a new battery for the laptop.",
        ],
    },
    "cell": {
        "biology": [
            "The cell divides after copying its DNA during mitosis.",
            "The membrane of each cell controls which molecules enter it.",
            "A stem cell can become a neuron or a muscle fibre.",
        ],
        "prison": [
            "The prisoner was locked in a cell for the night.",
            "The guard walked past every cell in the jail block.",
            "He spent ten years in a narrow prison cell.",
        ],
    },
}
STATIC = ("bow", "tfidf", "word2vec")
# Function words the BM25 stop list keeps; they would crowd the contextual neighbour lists. (Not
# scikit-learn's list: it also drops content words such as "interest" and "fire".)
_MORE_STOPWORDS = frozenset("its it's when every each after before then than also".split())
Vectorizer = Callable[[str, str], np.ndarray | None]  # (sentence, word) -> the word's vector there


def find_word(sentence: str, word: str) -> tuple[int, int]:
    """Character span of the first whole-word, case-insensitive occurrence of ``word`` in ``sentence``."""
    match = re.search(rf"\b{re.escape(word)}\b", sentence, re.IGNORECASE)
    if match is None:
        raise ValueError(f"{word!r} does not occur in {sentence!r}")
    return match.span()


def sense_separation(vectors: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Mean cosine of a word's vectors within a sense and across senses, the gap between them, and the
    leave-one-out accuracy of naming each vector's sense by the nearest sense centroid (ties share the
    credit, so vectors that cannot be told apart score chance: 1 / number of senses)."""
    unit = {s: [v / (np.linalg.norm(v) or 1.0) for v in vs] for s, vs in vectors.items()}
    within = [float(a @ b) for vs in unit.values() for a, b in itertools.combinations(vs, 2)]
    across = [float(a @ b) for s, t in itertools.combinations(unit, 2) for a in unit[s] for b in unit[t]]
    w, x = float(np.mean(within)), float(np.mean(across))
    credit = []
    for sense, vs in unit.items():
        for i, v in enumerate(vs):
            sims = {}
            for other, us in unit.items():
                rest = [u for j, u in enumerate(us) if other != sense or j != i]  # leave this one out
                sims[other] = float(v @ np.mean(rest, axis=0)) if rest else -np.inf
            best = max(sims.values())
            tied = [o for o, sim in sims.items() if sim >= best - 1e-6]
            credit.append(1 / len(tied) if sense in tied else 0.0)
    return {"within": w, "across": x, "gap": w - x, "accuracy": float(np.mean(credit))}


def corpus_documents(demo_dir: Path, scifact: Path | None, max_scifact: int | None = None) -> list[str]:
    """Paragraphs of the demo corpus, plus SciFact abstracts (title and text) when a folder is given."""
    import json

    docs: list[str] = []
    for path in sorted(demo_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        docs.extend(p for p in re.split(r"\n\s*\n", text) if p.strip())
    if scifact is not None:
        with open(scifact / "corpus.jsonl", encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                if max_scifact is not None and i >= max_scifact:
                    break
                doc = json.loads(line)
                docs.append(f"{doc.get('title') or ''}\n{doc.get('text') or ''}")
    return docs


class StaticSpace:
    """One vector per word type: word2vec, and the word's column in the bag-of-words / TF-IDF matrix."""

    def __init__(self, documents: Sequence[str], config: Word2VecConfig | None = None) -> None:
        """Tokenize the documents once, then fit the term-document matrices and train word2vec."""
        from sklearn.preprocessing import normalize

        tokens = [word_tokens(d) for d in documents]
        self.word2vec: KeyedVectors = train_word2vec(tokens, config)
        self.columns: dict[str, Any] = {}
        self.vocab: dict[str, dict[str, int]] = {}
        for name, kind in (("bow", "bow_binary"), ("tfidf", "tfidf")):
            vectorizer = sparse_vectorizer(kind).set_params(min_df=2)  # a word seen once has no neighbours
            matrix = vectorizer.fit_transform(tokens)
            # A word's vector is its column: the documents it occurs in (weighted by TF-IDF or not).
            self.columns[name] = normalize(matrix.T.tocsr().astype(np.float32))
            self.vocab[name] = vectorizer.vocabulary_
        self.documents = len(documents)

    def vector(self, kind: str, word: str) -> np.ndarray | None:
        """The word's static vector in ``kind`` (None when the word is not in that vocabulary)."""
        if kind == "word2vec":
            return self.word2vec[word] if word in self.word2vec.key_to_index else None
        row = self.vocab[kind].get(word)
        return None if row is None else self.columns[kind][row].toarray().ravel()

    def neighbours(self, kind: str, word: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest other words by cosine ([] when the word is unknown)."""
        if kind == "word2vec":
            if word not in self.word2vec.key_to_index:
                return []
            return [(w, float(s)) for w, s in self.word2vec.most_similar(word, topn=k)]
        row = self.vocab[kind].get(word)
        if row is None:
            return []
        sims = (self.columns[kind] @ self.columns[kind][row].T).toarray().ravel()
        sims[row] = -1.0  # not itself
        words = {i: w for w, i in self.vocab[kind].items()}
        best = np.lexsort((np.arange(sims.size), -sims))[:k]
        return [(words[int(i)], float(sims[i])) for i in best]


class ContextualEncoder:
    """Word vectors in context from MiniLM's last layer: the mean of the word's word-piece vectors."""

    def __init__(self, model_path: Path | str | None = None) -> None:
        """Load the embedding model (the bundled MiniLM by default) offline, as a plain transformer: the
        store's embedder only returns pooled sentence vectors, and this needs every word piece's."""
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from citegraph.models.paths import resolve_model_path
        from citegraph.settings import force_offline

        force_offline()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every run is noise
        path = resolve_model_path(model_path, "embedding")
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, sentence: str, layer: int = -1) -> tuple[Any, np.ndarray]:
        """Word-piece character offsets and one layer's vectors of a sentence. Layer 0 is the input
        embedding (word piece + position, no attention yet): a static control inside the same model."""
        import torch

        batch = self.tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt", truncation=True)
        offsets = batch.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            hidden = self.model(**batch, output_hidden_states=True).hidden_states[layer][0].float().numpy()
        return offsets, hidden

    def word_vector(self, sentence: str, word: str, layer: int = -1) -> np.ndarray:
        """The vector of ``word``'s first occurrence in ``sentence``."""
        start, end = find_word(sentence, word)
        offsets, hidden = self.encode(sentence, layer)
        rows = [i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end]
        return hidden[rows].mean(axis=0)

    def all_words(self, sentence: str) -> list[tuple[str, np.ndarray]]:
        """Every content word of ``sentence`` (stop words out) with its vector in that sentence."""
        offsets, hidden = self.encode(sentence)
        out = []
        for match in re.finditer(r"[A-Za-z]{3,}", sentence):
            if not word_tokens(match.group()) or match.group().lower() in _MORE_STOPWORDS:
                continue  # a stop word
            rows = [
                i for i, (a, b) in enumerate(offsets) if b > a and a >= match.start() and b <= match.end()
            ]
            if rows:
                out.append((match.group().lower(), hidden[rows].mean(axis=0)))
        return out


def contextual_neighbours(
    encoder: ContextualEncoder, word: str, sentences: Sequence[str], pool: Sequence[str], k: int
) -> list[tuple[str, float]]:
    """Nearest word occurrences to the centroid of ``word`` in ``sentences``, among the content words of
    the ``pool`` sentences (never ``word`` itself), as distinct words with their best cosine."""
    centroid = np.mean([encoder.word_vector(s, word) for s in sentences], axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    best: dict[str, float] = {}
    for sentence in pool:
        for w, v in encoder.all_words(sentence):
            if w == word:
                continue
            sim = float(centroid @ v / (np.linalg.norm(v) or 1.0))
            best[w] = max(sim, best.get(w, -1.0))
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


@dataclass
class PolysemyConfig:
    """Where the static vectors learn from, and how many neighbours to show."""

    demo_dir: Path
    scifact: Path | None = None
    max_scifact: int | None = None
    neighbours: int = 6
    # More epochs than retrieval's word2vec: most probe words are rare here, and rare words that get few
    # updates stay bunched near their shared start and look alike (cosine ~1 to other rare words).
    word2vec: Word2VecConfig = field(default_factory=lambda: Word2VecConfig(epochs=10, min_count=3))


def probe(
    config: PolysemyConfig,
    probes: dict[str, dict[str, list[str]]] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Neighbours and sense separation of every probe word in every representation."""
    import time

    probes = probes or PROBES
    started = time.perf_counter()
    documents = corpus_documents(config.demo_dir, config.scifact, config.max_scifact)
    log(f"static vectors from {len(documents)} documents (word2vec trains now)")
    static = StaticSpace(documents, config.word2vec)
    log(f"  done in {time.perf_counter() - started:.0f}s; embedding the probe sentences with MiniLM")
    encoder = ContextualEncoder()
    pool = [s for senses in probes.values() for sents in senses.values() for s in sents]
    words: dict[str, Any] = {}
    for word, senses in probes.items():
        separation: dict[str, dict[str, float] | None] = {}
        for kind in STATIC:
            vector = static.vector(kind, word)
            # The same vector in every sentence: that is what "static" means, measured rather than assumed.
            separation[kind] = (
                None
                if vector is None
                else sense_separation({s: [vector for _ in sents] for s, sents in senses.items()})
            )
        separation["word2vec_context"] = sense_separation(
            {
                s: [mean_vector(static.word2vec, [t for t in word_tokens(x) if t != word]) for x in sents]
                for s, sents in senses.items()
            }
        )
        for name, layer in (("minilm_layer0", 0), ("minilm", -1)):
            separation[name] = sense_separation(
                {s: [encoder.word_vector(x, word, layer) for x in sents] for s, sents in senses.items()}
            )
        words[word] = {
            "static_neighbours": {k: static.neighbours(k, word, config.neighbours) for k in STATIC},
            "contextual_neighbours": {
                s: contextual_neighbours(encoder, word, sents, pool, config.neighbours)
                for s, sents in senses.items()
            },
            "separation": separation,
            "sentences": senses,
        }
    return {
        "corpus": {
            "documents": len(documents),
            "demo_dir": str(config.demo_dir),
            "scifact": str(config.scifact) if config.scifact else None,
            "word2vec_vocab": len(static.word2vec),
        },
        "notes": (
            "bow one-hot vectors of two different words are orthogonal (cosine 0), so bow/tfidf neighbours "
            "use the word's column of the document-term matrix (binary / TF-IDF): words that occur in the "
            "same documents. Contextual neighbours: the closest content words of the other probe sentences "
            "to the mean MiniLM vector of the word in that sense's sentences."
        ),
        "words": words,
        "seconds": round(time.perf_counter() - started, 1),
    }
