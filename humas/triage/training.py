"""Training, saving and scoring the triage models (``humas triage train`` / ``evaluate``).

The weights are written as plain arrays, never pickles: for each field one compressed
``.npz`` with ``index`` (int32: the hashed features that have a weight), ``coef`` (float16,
one row per class, or one row for a yes/no field) and ``intercept`` (float32), plus
``models.json`` naming the classes, the vectoriser parameters and the scores measured when
the weights were made. :func:`humas.triage.engine.load_models` reads them back with
``allow_pickle=False``.

Sentiment is learned from SmSA (IndoNLU, Apache-2.0), whose folder is passed explicitly and
never read by default, plus the sentiment labels of the seed set so that citizen-style
complaints are in the training data too. Category, urgency and abuse are learned from the
seed set in ``data/seed.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humas.triage import engine

SEED_FIELDS = ("category", "urgency", "abusive")
LABELLED_FIELDS = ("language", "sentiment", "category", "urgency", "abusive")
DATA_DIR = Path(__file__).with_name("data")
SEED_FILE = DATA_DIR / "seed.jsonl"
# A weight this small moves no probability by a visible amount; leaving it out keeps the
# shipped files small.
PRUNE_BELOW = 1e-3


def label_of(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if name == "abusive":
        return "true" if value in (True, "true", "True", 1, "1") else "false"
    return str(value)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def read_smsa(directory: Path, split: str) -> tuple[list[str], list[str]]:
    """SmSA's ``{split}_preprocess.tsv``: text TAB label, no header."""
    texts, labels = [], []
    with (directory / f"{split}_preprocess.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text and label in engine.SENTIMENTS:
                texts.append(text)
                labels.append(label)
    return texts, labels


def featurise(texts: Sequence[str], params: dict[str, Any] | None = None) -> Any:
    models = engine.Models(vectorizer=dict(params or engine.VECTORIZER))
    return models.features([engine.normalise(text) for text in texts])


@dataclass
class Fitted:
    """A fitted linear model over the full hashed feature space."""

    classes_: Any
    coef_: Any
    intercept_: Any

    def predict(self, features: Any) -> Any:
        model = to_linear(self)
        return np.asarray(model.classes)[model.probabilities(features).argmax(axis=1)]


def fit(features: Any, labels: Sequence[str], weights: Any = None, c: float = 4.0) -> Fitted:
    """L2 logistic regression, balanced classes, fitted on the columns that occur.

    A column no training text hashes to gets weight 0 under L2 anyway; dropping those columns
    (most of the 2 x 2**18) before fitting gives the same model many times faster.
    """
    from sklearn.linear_model import LogisticRegression

    used = np.unique(features.indices)
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    model.fit(features[:, used], labels, sample_weight=weights)
    coef = np.zeros((model.coef_.shape[0], features.shape[1]), dtype=np.float32)
    coef[:, used] = model.coef_
    return Fitted(model.classes_, coef, np.asarray(model.intercept_, dtype=np.float32))


def to_linear(model: Any) -> engine.LinearModel:
    """The fitted scikit-learn model as the engine's float32 arrays (no rounding)."""
    coef = np.asarray(model.coef_, dtype=np.float32)
    return engine.LinearModel(
        tuple(str(c) for c in model.classes_),
        np.ascontiguousarray(coef.T),
        np.asarray(model.intercept_, dtype=np.float32),
    )


def save_field(directory: Path, name: str, model: Any) -> dict[str, Any]:
    coef = np.asarray(model.coef_, dtype=np.float32)
    keep = np.flatnonzero(np.abs(coef).max(axis=0) >= PRUNE_BELOW).astype(np.int32)
    target = directory / f"{name}.npz"
    np.savez_compressed(
        target,
        index=keep,
        coef=coef[:, keep].astype(np.float16),
        intercept=np.asarray(model.intercept_, dtype=np.float32),
    )
    return {"file": target.name, "classes": [str(c) for c in model.classes_]}


def write_meta(directory: Path, fields: dict[str, dict[str, Any]]) -> None:
    meta_file = directory / "models.json"
    meta: dict[str, Any] = {"vectorizer": dict(engine.VECTORIZER), "fields": {}}
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("vectorizer") != engine.VECTORIZER:
            # Old weights were hashed differently: they cannot be kept beside the new ones.
            meta = {"vectorizer": dict(engine.VECTORIZER), "fields": {}}
    meta["fields"].update(fields)
    meta_file.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, average="macro", zero_division=0))


def emergency_recall(truth: Sequence[str], predicted: Sequence[str]) -> float | None:
    relevant = [p for t, p in zip(truth, predicted, strict=True) if t == "emergency"]
    if not relevant:
        return None
    return sum(1 for p in relevant if p == "emergency") / len(relevant)


@dataclass
class FieldScore:
    field: str
    n: int
    accuracy: float
    macro_f1: float


def score(rows: Sequence[dict[str, Any]], triages: Sequence[engine.Triage]) -> dict[str, Any]:
    """Accuracy and macro-F1 per labelled field, plus emergency recall (for ``evaluate``)."""
    fields: list[FieldScore] = []
    result: dict[str, Any] = {"fields": fields, "emergency_recall": None}
    for name in LABELLED_FIELDS:
        pairs = [
            (truth, label_of(triage.as_dict(), name))
            for row, triage in zip(rows, triages, strict=True)
            if (truth := label_of(row, name)) is not None
        ]
        if not pairs:
            continue
        truths = [t for t, _ in pairs]
        predicted = [str(p) for _, p in pairs]
        accuracy = sum(1 for t, p in pairs if t == p) / len(pairs)
        fields.append(FieldScore(name, len(pairs), accuracy, macro_f1(truths, predicted)))
        if name == "category":
            result["emergency_recall"] = emergency_recall(truths, predicted)
    return result


def train_seed_models(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fitted scikit-learn models for category, urgency and abuse."""
    features = featurise([str(row["text"]) for row in rows])
    fitted = {}
    for name in SEED_FIELDS:
        labels = [label_of(row, name) for row in rows]
        keep = [i for i, label in enumerate(labels) if label is not None]
        fitted[name] = fit(features[keep], [str(labels[i]) for i in keep], c=16.0)
    return fitted


def train_sentiment(
    smsa_texts: Sequence[str], smsa_labels: Sequence[str], seed_rows: Sequence[dict[str, Any]]
) -> Any:
    """SmSA plus the seed set's sentiment labels (weighted up: they are our domain)."""
    seed = [(str(row["text"]), str(row["sentiment"])) for row in seed_rows if row.get("sentiment")]
    texts = list(smsa_texts) + [text for text, _ in seed]
    labels = list(smsa_labels) + [label for _, label in seed]
    weights = np.concatenate([np.ones(len(smsa_texts)), np.full(len(seed), 3.0)])
    return fit(featurise(texts), labels, weights=weights, c=8.0)


def cross_validate(
    rows: Sequence[dict[str, Any]],
    folds: int = 5,
    sentiment: Any = None,
    seed: int = 7,
    always_train: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Macro-F1 of the whole engine (rules + models) per field, over ``folds`` folds.

    Each fold's models are trained on the other folds and the held-out messages go through
    the same ``classify_many`` code as production, so the rules are scored too.
    ``sentiment``, if given, is a fitted sentiment model used as is (it saw the seed texts,
    so its seed-set score is optimistic; SmSA validation is its honest score).
    ``always_train`` rows are in every fold's training set and never scored (the template
    variations, when only hand-written messages should be held out).
    """
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    categories = [str(row["category"]) for row in rows]
    predictions: list[engine.Triage | None] = [None] * len(rows)
    for train_index, test_index in splitter.split(np.zeros(len(rows)), categories):
        fitted = train_seed_models([*always_train, *(rows[i] for i in train_index)])
        models = engine.Models(vectorizer=dict(engine.VECTORIZER))
        models.fields = {name: to_linear(model) for name, model in fitted.items()}
        if sentiment is not None:
            models.fields["sentiment"] = to_linear(sentiment)
        results = engine.classify_with([str(rows[i]["text"]) for i in test_index], models)
        for i, triage in zip(test_index, results, strict=True):
            predictions[i] = triage
    done = [triage for triage in predictions if triage is not None]
    return score(rows, done)


def train(
    smsa: Path | None,
    seed_file: Path = SEED_FILE,
    directory: Path = DATA_DIR,
    log: Any = None,
    cross_validation: bool = True,
) -> dict[str, Any]:
    """Retrain and rewrite the shipped weights; returns the held-out scores.

    Without ``smsa`` the sentiment weights already shipped are kept as they are.
    ``cross_validation=False`` skips the 5-fold scores (the slow part, for tests).
    """
    say = log or (lambda message: None)
    rows = read_jsonl(seed_file)
    report: dict[str, Any] = {"seed_rows": len(rows)}
    fields: dict[str, dict[str, Any]] = {}
    sentiment = None
    if smsa is not None:
        train_texts, train_labels = read_smsa(smsa, "train")
        valid_texts, valid_labels = read_smsa(smsa, "valid")
        say(f"SmSA: {len(train_texts)} training and {len(valid_texts)} validation texts")
        sentiment = train_sentiment(train_texts, train_labels, rows)
        predicted = sentiment.predict(featurise(valid_texts))
        report["smsa_valid_macro_f1"] = macro_f1(valid_labels, list(predicted))
        report["smsa_valid_accuracy"] = float(np.mean(np.asarray(predicted) == valid_labels))
        fields["sentiment"] = save_field(directory, "sentiment", sentiment) | {
            "trained_on": "SmSA train (IndoNLU) + seed set",
            "smsa_valid_macro_f1": round(report["smsa_valid_macro_f1"], 4),
        }
    if cross_validation:
        report["cv"] = cross_validate(rows, sentiment=sentiment)
    for name, model in train_seed_models(rows).items():
        fields[name] = save_field(directory, name, model) | {"trained_on": "seed set"}
    write_meta(directory, fields)
    engine.reset_models()
    return report


def format_scores(result: dict[str, Any]) -> Iterable[str]:
    for item in result["fields"]:
        yield (
            f"{item.field:<10} n={item.n:<5} accuracy={item.accuracy:.3f} "
            f"macro-F1={item.macro_f1:.3f}"
        )
    if result.get("emergency_recall") is not None:
        yield f"emergency recall={result['emergency_recall']:.3f}"
