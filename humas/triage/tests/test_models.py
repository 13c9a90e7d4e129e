import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import humas.triage
from humas.triage import classify_many
from humas.triage.engine import MODEL_FIELDS, get_models, load_models, reset_models

DATA = Path(humas.triage.__file__).parent / "data"


def data_file(name: str) -> Path:
    return DATA / name


def test_every_shipped_model_loads_without_pickle() -> None:
    meta = json.loads(data_file("models.json").read_text(encoding="utf-8"))
    assert set(meta["fields"]) == set(MODEL_FIELDS)
    for info in meta["fields"].values():
        with (
            data_file(info["file"]).open("rb") as handle,
            np.load(handle, allow_pickle=False) as arrays,
        ):
            assert set(arrays.files) == {"index", "coef", "intercept"}
            assert arrays["coef"].dtype == np.float16
            assert arrays["index"].dtype == np.int32
            assert arrays["coef"].shape[1] == arrays["index"].shape[0]


def test_the_weight_files_hold_no_pickled_objects() -> None:
    meta = json.loads(data_file("models.json").read_text(encoding="utf-8"))
    for info in meta["fields"].values():
        with data_file(info["file"]).open("rb") as handle, zipfile.ZipFile(handle) as archive:
            for name in archive.namelist():
                header = archive.read(name)[:200]
                assert b"'descr': '|O'" not in header


def test_the_shipped_weights_stay_small() -> None:
    total = sum(
        data_file(name).stat().st_size
        for name in ("sentiment.npz", "category.npz", "urgency.npz", "abusive.npz")
    )
    assert total < 5 * 1024 * 1024


def test_the_loaded_models_cover_every_field() -> None:
    models = load_models()
    assert set(models.fields) == set(MODEL_FIELDS)
    assert models.fields["abusive"].classes == ("false", "true")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pelayanannya sangat memuaskan, petugasnya ramah dan cepat, terima kasih", "positive"),
        ("saya sangat kecewa, sudah menunggu berjam-jam tapi tidak dilayani", "negative"),
        ("makanannya enak dan harganya murah, pasti balik lagi", "positive"),
        ("jalannya rusak parah dan berbahaya, sangat mengecewakan", "negative"),
    ],
)
def test_the_shipped_sentiment_model_scores_clear_sentences_sensibly(
    text: str, expected: str
) -> None:
    (result,) = classify_many([text])
    assert result.sentiment == expected


def test_a_plain_question_is_not_strongly_positive_or_negative() -> None:
    (result,) = classify_many(["jadwal posyandu bulan depan tanggal berapa?"])
    assert result.sentiment == "neutral"


def test_the_models_are_loaded_once_even_when_threads_race_for_them() -> None:
    reset_models()
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(get_models())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert all(models is seen[0] for models in seen)


def test_training_from_the_seed_set_writes_loadable_weights_without_reading_smsa(
    tmp_path: Path,
) -> None:
    from humas.triage import training
    from humas.triage.engine import classify_with

    report = training.train(None, directory=tmp_path, cross_validation=False)
    assert report["seed_rows"] > 700
    assert "smsa_valid_macro_f1" not in report
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "abusive.npz",
        "category.npz",
        "models.json",
        "urgency.npz",
    ]
    models = load_models(tmp_path)
    assert set(models.fields) == {"category", "urgency", "abusive"}
    (result,) = classify_with(["syarat bikin KTP apa aja min?"], models)
    assert result.category == "information_request"
    assert result.confidence["sentiment"] == 0.0  # no sentiment weights: sent to review
    assert result.needs_review
