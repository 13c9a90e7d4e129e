import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

from humas.lib import crypto


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    return settings, old, new


def test_it_round_trips_a_secret(keys):
    token = crypto.encrypt("app-password-123")
    assert "app-password-123" not in token
    assert crypto.decrypt(token) == "app-password-123"


def test_it_round_trips_json_credentials(keys):
    token = crypto.encrypt_json({"handle": "humas.bsky.social", "app_password": "a-b-c"})
    assert crypto.decrypt_json(token) == {"handle": "humas.bsky.social", "app_password": "a-b-c"}


def test_old_values_still_decrypt_after_a_new_key_is_put_first(keys):
    settings, old, new = keys
    token = crypto.encrypt("secret")
    settings.FERNET_KEYS = [new, old]
    assert crypto.decrypt(token) == "secret"


def test_rotation_re_encrypts_under_the_new_key_so_the_old_one_can_go(keys):
    settings, old, new = keys
    token = crypto.encrypt("secret")
    settings.FERNET_KEYS = [new, old]
    rotated = crypto.rotate(token)
    settings.FERNET_KEYS = [new]
    assert crypto.decrypt(rotated) == "secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_a_value_from_an_unknown_key_gives_a_clear_error(keys):
    settings, _old, new = keys
    token = crypto.encrypt("secret")
    settings.FERNET_KEYS = [new]
    with pytest.raises(crypto.DecryptionError, match="no longer configured"):
        crypto.decrypt(token)


def test_a_malformed_key_is_reported_by_the_system_checks(settings):
    settings.FERNET_KEYS = ["not-a-key"]
    errors = [e for e in run_checks() if e.id == "humas.E002"]
    assert errors and "not a valid Fernet key" in errors[0].msg
