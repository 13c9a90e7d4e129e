import re
from pathlib import Path

from humas.accounts.roles import PERMISSIONS, Role

DOC = Path(__file__).resolve().parents[3] / "docs" / "roles.md"


def test_docs_roles_md_shows_exactly_the_matrix_the_code_enforces():
    rows = {}
    header = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| permission |"):
            header = [c.strip() for c in line.strip("|").split("|")][2:]
            continue
        match = re.match(r"\|\s*`([a-z_.]+)`\s*\|[^|]*\|(.*)\|\s*$", line)
        if header and match:
            marks = [c.strip() for c in match.group(2).split("|")]
            rows[match.group(1)] = {
                role for role, mark in zip(header, marks, strict=True) if mark == "✔"
            }
    assert header == list(Role.values)
    assert rows == {code: set(holders) for code, (holders, _) in PERMISSIONS.items()}
