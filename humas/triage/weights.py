"""An organisation's triage weights: packing them into one ``.npz`` (never a pickle), reading
them back, and the per-process cache :func:`humas.triage.engine.classify_many` uses.

A version's ``.npz`` holds, for each field it trained, ``<field>.index`` (int32: the hashed
features that have a weight), ``<field>.coef`` (float16, one row per class, or one row for a
yes/no field), ``<field>.intercept`` (float32) and ``<field>.classes`` (unicode), plus
``vectorizer`` (the hashing parameters as JSON). Fields it did not train come from the shipped
model.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from humas.triage import engine
from humas.triage.training import PRUNE_BELOW

if TYPE_CHECKING:
    from humas.accounts.models import Organisation

#: Loaded versions kept per process. Weights are dense float32 over the hashed features:
#: 2 MB per class row, so up to ~30 MB for a version that retrained all four fields.
CACHE_SIZE = 8


def pack(fields: dict[str, engine.LinearModel]) -> bytes:
    """The ``.npz`` bytes for ``fields`` (weights below PRUNE_BELOW left out, as shipped)."""
    arrays: dict[str, Any] = {"vectorizer": np.array(json.dumps(engine.VECTORIZER))}
    for name, model in fields.items():
        coef = np.asarray(model.coef, dtype=np.float32).T  # (rows, n_features)
        keep = np.flatnonzero(np.abs(coef).max(axis=0) >= PRUNE_BELOW).astype(np.int32)
        arrays[f"{name}.index"] = keep
        arrays[f"{name}.coef"] = coef[:, keep].astype(np.float16)
        arrays[f"{name}.intercept"] = np.asarray(model.intercept, dtype=np.float32)
        arrays[f"{name}.classes"] = np.array(model.classes, dtype=np.str_)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack(data: bytes | memoryview) -> dict[str, engine.LinearModel]:
    """The fields stored by :func:`pack`, read with ``allow_pickle=False``.

    Raises ``ValueError`` for weights hashed with other vectoriser parameters: they cannot
    be used with today's features.
    """
    fields: dict[str, engine.LinearModel] = {}
    with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as arrays:
        if json.loads(str(arrays["vectorizer"])) != engine.VECTORIZER:
            raise ValueError("weights were hashed with other vectoriser parameters")
        n_features = 2 * int(str(engine.VECTORIZER["n_features"]))
        names = {key.split(".", 1)[0] for key in arrays.files if key.endswith(".classes")}
        for name in sorted(names):
            values = arrays[f"{name}.coef"].astype(np.float32)
            coef = np.zeros((n_features, values.shape[0]), dtype=np.float32)
            coef[arrays[f"{name}.index"].astype(np.int64), :] = values.T
            fields[name] = engine.LinearModel(
                tuple(str(c) for c in arrays[f"{name}.classes"]),
                coef,
                arrays[f"{name}.intercept"].astype(np.float32),
            )
    return fields


def combine(fields: dict[str, engine.LinearModel]) -> engine.Models:
    """The shipped models with ``fields`` in place of theirs."""
    shipped = engine.get_models()
    models = engine.Models(vectorizer=dict(shipped.vectorizer))
    models.fields = {**shipped.fields, **fields}
    return models


_lock = threading.Lock()
# (organisation id, version number) -> (version created_at, models). created_at guards against
# a key meaning another version (a test database rolled back and numbered again).
_cache: OrderedDict[tuple[int, int], tuple[datetime, engine.Models]] = OrderedDict()


def models_for(organisation: Organisation | int) -> engine.Models:
    """The models to classify ``organisation``'s messages with: its active version, or the
    shipped ones. One indexed query per call (callers call it once per batch)."""
    from humas.triage.models import ModelVersion

    org_id = organisation if isinstance(organisation, int) else organisation.pk
    active = (
        ModelVersion.objects.filter(organisation_id=org_id, active=True)
        .values_list("pk", "number", "created_at")
        .first()
    )
    if active is None:
        return engine.get_models()
    pk, number, created_at = active
    key = (org_id, number)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == created_at:
            _cache.move_to_end(key)
            return hit[1]
    data = ModelVersion.objects.filter(pk=pk).values_list("weights", flat=True).first()
    if data is None:  # rolled back and deleted between the two queries
        return engine.get_models()
    models = combine(unpack(data))
    with _lock:
        _cache[key] = (created_at, models)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return models


def forget(organisation_id: int | None = None) -> None:
    """Drop cached versions (of one organisation, or all)."""
    with _lock:
        for key in [k for k in _cache if organisation_id is None or k[0] == organisation_id]:
            del _cache[key]
