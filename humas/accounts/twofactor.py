"""TOTP devices and one-time backup codes, on top of django-otp."""

from __future__ import annotations

import io
import secrets

import qrcode
import qrcode.image.svg
from django.db.models import Model
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

BACKUP_CODE_COUNT = 10
TOTP_NAME = "authenticator"
BACKUP_NAME = "backup"


def has_confirmed_device(user: Model) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_totp_device(user: Model) -> TOTPDevice:
    """The unconfirmed device being enrolled, created on first call and reused on reload."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The provisioning URI as an inline SVG (no image request, nothing for CSP to block)."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def secret_base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode().rstrip("=")


def new_backup_codes(user: Model) -> list[str]:
    """Replace the user's backup codes with a fresh set and return them (shown once)."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=BACKUP_NAME)
    device.confirmed = True
    device.save()
    device.token_set.all().delete()
    codes = [f"{secrets.randbelow(10**8):08d}" for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [f"{code[:4]}-{code[4:]}" for code in codes]


def remaining_backup_codes(user: Model) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=BACKUP_NAME).count()


def verify_code(user: Model, code: str) -> TOTPDevice | StaticDevice | None:
    """The device that accepts ``code``: a 6-digit TOTP or an 8-digit backup code."""
    cleaned = "".join(ch for ch in code if ch.isdigit())
    if len(cleaned) == 6:
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            if device.verify_token(cleaned):
                return device
    elif len(cleaned) == 8:
        for static in StaticDevice.objects.filter(user=user, confirmed=True):
            if static.verify_token(cleaned):
                return static
    return None


def remove_all_devices(user: Model) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
