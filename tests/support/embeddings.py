"""A FAKE embedder for tests: hashed bag of words with a small synonym table. It is not a
language model and finds "meaning" only through the synonyms listed here; Plait ships no
embedder (``workspace.domain.ports.Embedder``)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

DIMENSIONS = 64
#: words the fake treats as the same concept
SYNONYMS = {"feline": "cat", "kitten": "cat", "puppy": "dog", "canine": "dog", "automobile": "car"}


class FakeEmbedder:
    name = "fake-bag-of-words (tests only)"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * DIMENSIONS
        for word in re.findall(r"\w+", text.lower()):
            word = SYNONYMS.get(word, word)
            slot = int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMENSIONS
            vector[slot] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]
