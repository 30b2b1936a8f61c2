"""The trained model as triage sees it: one small interface, loaded once per process.

STYLE: the classifier is a small `Protocol` with a real implementation and, for tests, a
simple one passed in the same way (tests train a tiny real model instead of faking one).
`NoModel` stands in before the first `minyi model train`: every appeal then waits for a
dispatcher, which is what a hotline did before it had a machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from minyi.core.config import Settings
from minyi.triage.domain import ItemGuess, LabelGuess


class TriageEngine(Protocol):
    @property
    def version(self) -> str | None: ...

    @property
    def auto_threshold(self) -> float | None:
        """The item score from which the model's own evaluation allows auto-dispatch."""
        ...

    def classify(self, text: str) -> LabelGuess | None: ...

    def rank_items(self, text: str, label: LabelGuess | None, k: int = 5) -> list[ItemGuess]: ...


class NoModel:
    version: str | None = None
    auto_threshold: float | None = None

    def classify(self, text: str) -> LabelGuess | None:
        return None

    def rank_items(self, text: str, label: LabelGuess | None, k: int = 5) -> list[ItemGuess]:
        return []


class ModelEngine:
    """A trained bundle (`artefacts.TriageModel`): the first-level classifier and the item
    ranker, adapted to the router's plain types."""

    def __init__(self, *, classifier: Any, ranker: Any | None, version: str, meta: Any) -> None:
        self._classifier = classifier
        self._ranker = ranker
        self._version = version
        # The ranker chose it on left-out confirmed examples (None: no score reached 97 %).
        threshold = getattr(ranker, "auto_threshold", None) if ranker is not None else None
        self._auto_threshold = float(threshold) if threshold is not None else None

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def auto_threshold(self) -> float | None:
        return self._auto_threshold

    def classify(self, text: str) -> LabelGuess | None:
        (p,) = self._classifier.predict([text])
        return LabelGuess(
            label=p.label,
            confidence=float(p.confidence),
            top3=tuple((str(name), float(prob)) for name, prob in p.top3),
            probabilities={str(k): float(v) for k, v in p.probabilities.items()},
            features=tuple((str(f), float(w)) for f, w in p.features),
        )

    def rank_items(self, text: str, label: LabelGuess | None, k: int = 5) -> list[ItemGuess]:
        if self._ranker is None:
            return []
        probs = dict(label.probabilities) if label is not None else {}
        return [_item(c) for c in self._ranker.rank(text, probs, k=k)]


def _item(c: Any) -> ItemGuess:
    matched: Sequence[str] = c.matched
    return ItemGuess(
        path=str(c.path),
        code=str(c.code),
        name=str(c.name),
        score=float(c.score),
        matched=tuple(str(m) for m in matched),
    )


def get_engine(settings: Settings) -> TriageEngine:
    """The latest trained model, loaded once per process (and again when a newer version
    is trained), or `NoModel` when none has been trained yet."""
    from minyi.triage import artefacts

    bundle = artefacts.get_model(settings)
    if bundle is None:
        return NoModel()
    return ModelEngine(
        classifier=bundle.classifier,
        ranker=bundle.ranker,
        version=bundle.version,
        meta=bundle.meta,
    )
