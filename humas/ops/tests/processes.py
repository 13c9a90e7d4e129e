"""Helpers for tests that run `humas` commands as real processes against a throwaway SQLite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEADLINE_SECONDS = 60.0
HUMAS = [sys.executable, "-m", "humas.cli"]


def environment(data_dir: Path) -> dict[str, str]:
    """This process's environment, pointed at an installation of its own in ``data_dir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "HUMAS_TASK_BACKEND", "SITE_URL", "ALLOWED_HOSTS"}
    }
    env.update(
        HUMAS_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{database_path(data_dir)}",
        DJANGO_SETTINGS_MODULE="humas.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def database_path(data_dir: Path) -> Path:
    return data_dir / "humas.sqlite3"


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
