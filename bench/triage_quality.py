"""Quality of the triage engine: sentiment on SmSA validation, cross-validated seed-set scores.

    .venv/bin/python bench/triage_quality.py [--smsa DIR]

* With ``--smsa`` (the IndoNLU SmSA folder): macro-F1 and accuracy of the *shipped* sentiment
  model on SmSA's validation split, which it was not trained on.
* 5-fold cross-validation on ``humas/triage/data/seed.jsonl`` of the whole engine (rules and
  freshly trained category/urgency/abuse models per fold): accuracy and macro-F1 per field
  and emergency recall. Language is rules only; the sentiment column uses the shipped model,
  which saw the seed texts, so only its SmSA figure is honest.
* The same, holding out only hand-written messages (template variations always train): the
  stricter figure, since variations of one template look alike across folds.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from humas.triage import seedgen, training
    from humas.triage.engine import get_models

    smsa = Path(sys.argv[sys.argv.index("--smsa") + 1]) if "--smsa" in sys.argv else None
    models = get_models()
    sentiment = models.fields["sentiment"]
    if smsa is not None:
        texts, labels = training.read_smsa(smsa, "valid")
        probabilities = sentiment.probabilities(training.featurise(texts))
        predicted = [sentiment.classes[i] for i in probabilities.argmax(axis=1)]
        accuracy = sum(p == t for p, t in zip(predicted, labels, strict=True)) / len(labels)
        print(
            f"SmSA validation ({len(labels)} texts), shipped sentiment model: "
            f"macro-F1 {training.macro_f1(labels, predicted):.3f}, accuracy {accuracy:.3f}"
        )
    else:
        print("SmSA validation: skipped (pass --smsa DIR)")

    rows = training.read_jsonl(training.SEED_FILE)
    fitted_sentiment = _as_fitted(sentiment)
    print(f"\nSeed set, 5-fold cross-validation of the whole engine ({len(rows)} messages):")
    for line in training.format_scores(training.cross_validate(rows, sentiment=fitted_sentiment)):
        print("  " + line)

    hand_texts = {line[5] for line in seedgen.hand_lines()}
    hand = [row for row in rows if row["text"] in hand_texts]
    templated = [row for row in rows if row["text"] not in hand_texts]
    print(
        f"\nHand-written messages held out ({len(hand)}; the {len(templated)} template "
        "variations always train):"
    )
    result = training.cross_validate(hand, sentiment=fitted_sentiment, always_train=templated)
    for line in training.format_scores(result):
        print("  " + line)


def _as_fitted(model: object) -> object:
    """The shipped sentiment weights in the shape ``cross_validate`` expects."""
    from humas.triage.training import Fitted

    linear = model  # engine.LinearModel: coef is (n_features, n_classes)
    return Fitted(
        classes_=list(linear.classes),  # type: ignore[attr-defined]
        coef_=linear.coef.T,  # type: ignore[attr-defined]
        intercept_=linear.intercept,  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    main()
