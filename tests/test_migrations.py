"""The models and their migrations agree: a model change without its migration fails here,
not on an administrator's upgrade."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits non-zero when a migration is missing
        pytest.fail(f"a migration is missing (exit {exc.code}):\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()
