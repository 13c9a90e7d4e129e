"""The Indonesian catalogue is complete, compiled, and covers every string in the code."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "humas"
PO = PACKAGE / "locale" / "id" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _untranslated(catalogue: polib.POFile) -> list[str]:
    return [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or e.fuzzy)]


def test_every_entry_of_the_indonesian_catalogue_is_translated():
    assert _untranslated(polib.pofile(str(PO))) == []


def test_the_compiled_catalogue_matches_the_source():
    source = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0)
        for e in polib.pofile(str(PO))
        if not e.obsolete
    }
    compiled = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in polib.mofile(str(MO))
    }
    compiled.pop((None, ""), None)
    assert compiled == source, "run `make messages` to recompile django.mo"


def test_every_translatable_string_in_the_code_is_in_the_catalogue(tmp_path):
    if shutil.which("xgettext") is None:
        if os.environ.get("CI"):
            pytest.fail("GNU gettext is missing in CI: .ci/run must install it")
        pytest.skip("GNU gettext (xgettext) is not installed; CI installs it and runs this test")
    copy = tmp_path / "humas"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "id",
            "--no-location",
            "--no-obsolete",
        ],
        cwd=copy,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "humas.settings",
            "PYTHONPATH": str(PACKAGE.parent),
        },
        check=True,
        capture_output=True,
    )
    missing = _untranslated(polib.pofile(str(copy / "locale" / "id" / "LC_MESSAGES" / "django.po")))
    assert missing == [], "new strings need Indonesian: run `make messages` and translate them"
