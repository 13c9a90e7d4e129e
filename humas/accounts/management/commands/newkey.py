from typing import Any

from django.core.management.base import BaseCommand

from humas.lib.crypto import new_key


class Command(BaseCommand):
    help = (
        "Print a new key for HUMAS_FERNET_KEYS "
        "(put it first to rotate; keep the old ones after it)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(new_key())
