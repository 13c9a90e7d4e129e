"""The ``humas`` command: Django's management commands with the settings already chosen.

``humas worker``, ``humas serve``, ``humas createorg``, ``humas audit verify``… are the
management commands of the project's apps; ``humas help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["humas", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
