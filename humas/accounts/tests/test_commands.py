import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from humas.accounts.management.commands.seeddemo import DEMO_SLUG, PEOPLE
from humas.accounts.models import AuditEntry, Membership, Organisation, Unit, User
from humas.accounts.roles import Role

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def test_createorg_makes_an_organisation_that_requires_2fa(capsys):
    call_command("createorg", "Pemerintah Provinsi Contoh", "--zone", "WITA")
    org = Organisation.objects.get(name="Pemerintah Provinsi Contoh")
    assert org.require_2fa and org.time_zone == "Asia/Makassar" and not org.is_demo
    assert "createadmin --org" in capsys.readouterr().out
    assert AuditEntry.objects.filter(
        action="accounts.organisation.created", organisation=org
    ).exists()


def test_createorg_refuses_a_taken_short_name():
    call_command("createorg", "Kota A", "--slug", "kota-a")
    with pytest.raises(CommandError, match="kota-a"):
        call_command("createorg", "Kota A lagi", "--slug", "kota-a")


def test_createadmin_reads_the_password_from_stdin_and_checks_it(monkeypatch):
    call_command("createorg", "Kota B", "--slug", "kota-b")
    monkeypatch.setattr(sys, "stdin", io.StringIO("katasandi\n"))
    with pytest.raises(CommandError, match="Password refused"):
        call_command("createadmin", "--org", "kota-b", "--email", "a@b.go.id", "--password-stdin")
    assert not User.objects.filter(email="a@b.go.id").exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO("lampu-jalan-sore-sembilan\n"))
    call_command("createadmin", "--org", "kota-b", "--email", "A@B.go.id", "--password-stdin")
    user = User.objects.get(email="a@b.go.id")
    assert user.check_password("lampu-jalan-sore-sembilan")
    assert Membership.objects.get(user=user).role == Role.ADMIN


def test_createadmin_names_a_missing_organisation():
    with pytest.raises(CommandError, match="tidak-ada"):
        call_command("createadmin", "--org", "tidak-ada", "--email", "x@y.id", "--password-stdin")


def test_seeddemo_creates_the_demo_once_and_prints_the_logins(capsys):
    call_command("seeddemo")
    out = capsys.readouterr().out
    call_command("seeddemo")
    org = Organisation.objects.get(slug=DEMO_SLUG)
    assert org.name == "Pemerintah Kota Contoh" and org.is_demo and not org.require_2fa
    assert {u.code for u in Unit.objects.filter(organisation=org)} >= {
        "dinkes",
        "dukcapil",
        "bpbd",
        "dishub",
    }
    roles = set(Membership.objects.filter(organisation=org).values_list("role", flat=True))
    assert roles == set(Role.values)
    assert Membership.objects.filter(organisation=org).count() == len(PEOPLE)
    for email, *_ in PEOPLE:
        assert email in out


def test_newkey_prints_a_usable_fernet_key(capsys):
    call_command("newkey")
    Fernet(capsys.readouterr().out.strip().encode())


def _humas(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "SECRET_KEY",
            "HUMAS_FERNET_KEYS",
            "SITE_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    full_env.update({"HUMAS_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "humas.cli", *args],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _humas(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        env={
            "SITE_URL": "https://humas.contoh.go.id",
            "SECRET_KEY": Fernet.generate_key().decode() * 2,
            "HUMAS_FERNET_KEYS": Fernet.generate_key().decode(),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_development_defaults(tmp_path):
    result = _humas("check", "--deploy", tmp_path=tmp_path, env={})
    assert "humas.W001" in result.stderr + result.stdout
    assert "humas.W003" in result.stderr + result.stdout


def test_a_broken_database_url_is_reported_by_check_not_a_traceback(tmp_path):
    result = _humas("check", tmp_path=tmp_path, env={"DATABASE_URL": "mysqlx://nonsense"})
    assert result.returncode != 0
    assert "humas.E001" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_generated_secret_key_is_kept_between_runs(tmp_path):
    _humas("check", tmp_path=tmp_path, env={})
    first = (tmp_path / "secret_key").read_text()
    _humas("check", tmp_path=tmp_path, env={})
    assert (tmp_path / "secret_key").read_text() == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_secret_key_file_is_read(tmp_path):
    secret = tmp_path / "key.txt"
    secret.write_text("s" * 60)
    result = _humas(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        tmp_path=tmp_path,
        env={"SECRET_KEY_FILE": str(secret)},
    )
    assert result.stdout.strip().splitlines()[-1] == "s" * 60


def test_email_goes_to_the_console_by_default_and_to_smtp_when_configured(tmp_path):
    show = "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.EMAIL_USE_TLS)"
    default = _humas("shell", "-c", show, tmp_path=tmp_path, env={})
    assert (
        default.stdout.strip().splitlines()[-1]
        == "django.core.mail.backends.console.EmailBackend True"
    )
    smtp = _humas(
        "shell",
        "-c",
        show,
        tmp_path=tmp_path,
        env={"EMAIL_HOST": "smtp.contoh.go.id", "EMAIL_PORT": "465"},
    )
    assert (
        smtp.stdout.strip().splitlines()[-1] == "django.core.mail.backends.smtp.EmailBackend False"
    )
