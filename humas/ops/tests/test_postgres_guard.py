from __future__ import annotations

import pytest
from django.db import connection

from humas.ops.tests.conftest import require_postgres


def test_it_skips_postgres_tests_on_another_database_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception):
        require_postgres()


def test_it_fails_instead_of_skipping_when_ci_asked_for_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="refusing to skip"):
        require_postgres()
