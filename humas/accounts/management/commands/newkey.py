from typing import Any

from django.core.management.base import BaseCommand

from humas.lib.crypto import new_key


class Command(BaseCommand):
    help = (
        "Print a new key for HUMAS_FERNET_KEYS "
        "(put it first, run `humas rotatekeys`, then drop the old key)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(new_key())
