from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from humas.accounts.audit import Actor, record
from humas.channels.models import ChannelAccount
from humas.lib import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored channel secret under the first key of HUMAS_FERNET_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        unreadable = []
        with transaction.atomic():
            channels = ChannelAccount.objects.select_for_update().exclude(credentials_encrypted="")
            for channel in channels:
                try:
                    channel.credentials_encrypted = crypto.rotate(channel.credentials_encrypted)
                except crypto.DecryptionError:
                    unreadable.append(channel)
                    continue
                channel.save(update_fields=["credentials_encrypted"])
                rotated += 1
            if unreadable:
                names = ", ".join(f"#{c.pk} {c}" for c in unreadable)
                # Nothing is half-done: the transaction rolls back, all secrets keep their key.
                raise CommandError(
                    f"{len(unreadable)} channel secret(s) cannot be read with any configured key "
                    f"({names}); nothing was changed. Add the missing key and run again."
                )
            record(
                "channels.credentials.rotated",
                actor=Actor.system("humas rotatekeys"),
                payload={"channels": rotated},
            )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {rotated} channel(s)."))
