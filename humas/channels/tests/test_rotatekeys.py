import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.channels import actions
from humas.channels.models import ChannelAccount

pytestmark = pytest.mark.django_db


def test_rotation_re_encrypts_every_channel_so_the_old_key_can_go(
    org, fake_network, settings, capsys
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    channel = actions.connect_channel(org, "fake", {"token": "rahasia-kanal"}, by=Actor.system())
    settings.FERNET_KEYS = [new, old]
    call_command("rotatekeys")
    assert "1 channel" in capsys.readouterr().out
    settings.FERNET_KEYS = [new]
    assert ChannelAccount.objects.get(pk=channel.pk).get_credentials() == {"token": "rahasia-kanal"}
    assert AuditEntry.objects.get(action="channels.credentials.rotated").payload == {"channels": 1}


def test_rotation_changes_nothing_when_a_secret_cannot_be_read(org, fake_network, settings):
    lost, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [lost]
    channel = actions.connect_channel(org, "fake", {"token": "t"}, by=Actor.system())
    before = ChannelAccount.objects.get(pk=channel.pk).credentials_encrypted
    settings.FERNET_KEYS = [new]
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("rotatekeys")
    assert ChannelAccount.objects.get(pk=channel.pk).credentials_encrypted == before
