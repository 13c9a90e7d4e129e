"""``humas triage retrain|versions|rollback --org SLUG``."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from humas.triage import active_version
from humas.triage.tests.test_command import run
from humas.triage.tests.test_retrain import teach

pytestmark = pytest.mark.django_db


def test_retrain_prints_progress_and_the_before_and_after_table(org):
    teach(org)
    out, err, code = run("retrain", "--org", org.slug)
    assert code == 0 and err == ""
    assert "[  5%]" in out and "[100%]" in out
    table = out.split("\n\n", 1)[1]
    assert table.splitlines()[0].split() == ["field", "before", "after", "held", "out", "from"]
    assert table.splitlines()[1].startswith("urgency")
    assert f"Version 1 of {org.slug} is active." in out


def test_versions_lists_them_with_the_active_one_marked(org):
    teach(org)
    run("retrain", "--org", org.slug)
    run("retrain", "--org", org.slug)
    out, _err, _code = run("versions", "--org", org.slug)
    lines = out.splitlines()
    assert lines[0].startswith("  v1") and lines[1].startswith("* v2")
    assert "urgency" in lines[1]


def test_versions_says_when_the_shipped_model_is_in_use(org):
    out, _err, _code = run("versions", "--org", org.slug)
    assert "shipped model" in out


def test_rollback_goes_to_a_numbered_version_or_the_shipped_model(org):
    teach(org)
    run("retrain", "--org", org.slug)
    run("retrain", "--org", org.slug)
    out, _err, _code = run("rollback", "--org", org.slug, "--to", "1")
    assert "Version 1 is in use again." in out
    active = active_version(org)
    assert active is not None and active.number == 1
    out, _err, _code = run("rollback", "--org", org.slug)
    assert "shipped model" in out
    assert active_version(org) is None


def test_retrain_without_corrections_fails_with_the_reason(org):
    with pytest.raises(CommandError, match="no corrections"):
        run("retrain", "--org", org.slug)


def test_an_unknown_organisation_or_version_is_an_error(org):
    with pytest.raises(CommandError, match="No organisation"):
        run("versions", "--org", "tidak-ada")
    with pytest.raises(CommandError, match="Give --org"):
        run("versions")
    with pytest.raises(CommandError, match="no version 7"):
        run("rollback", "--org", org.slug, "--to", "7")
