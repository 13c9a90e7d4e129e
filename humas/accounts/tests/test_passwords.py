import pytest
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError

from humas.accounts.models import User


@pytest.mark.parametrize(
    "password",
    [
        "katasandi",
        "rahasia123",
        "Rahasia123!",
        "k4t4s4nd1",
        "sayangku2024",
        "bismillah99",
        "password1",
    ],
)
def test_it_refuses_common_and_indonesian_common_passwords(password):
    with pytest.raises(ValidationError):
        password_validation.validate_password(password, User(email="x@contoh.go.id"))


def test_it_refuses_a_password_built_on_the_users_own_address():
    with pytest.raises(ValidationError):
        password_validation.validate_password(
            "ratna.humas2026", User(email="ratna.humas@contoh.go.id")
        )


def test_it_accepts_a_long_passphrase():
    password_validation.validate_password("jembatan-hijau-kopi-tujuh", User(email="x@contoh.go.id"))


def test_the_first_hasher_is_argon2(settings):
    from humas import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert make_password("jembatan-hijau-kopi-tujuh").startswith("argon2$")
