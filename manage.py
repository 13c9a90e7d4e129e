#!/usr/bin/env python
"""Same as the ``humas`` command, for people used to Django."""

from humas.cli import main

if __name__ == "__main__":
    main()
