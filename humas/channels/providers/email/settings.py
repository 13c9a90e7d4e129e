"""An agency mailbox's settings: from the connect form or a stored channel, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from humas.channels.providers.base import ProviderError
from humas.channels.providers.email.forms import SECURITY_VALUES, split_addresses


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed: header values must never carry a newline."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str
    username: str
    password: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class MailSettings:
    address: str
    display_name: str
    smtp: Server
    imap: Server
    folder: str
    recipients: tuple[str, ...]
    history_days: int

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1].lower()

    def config(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "display_name": self.display_name,
            "smtp_host": self.smtp.host,
            "smtp_port": self.smtp.port,
            "smtp_security": self.smtp.security,
            "smtp_username": self.smtp.username,
            "imap_host": self.imap.host,
            "imap_port": self.imap.port,
            "imap_security": self.imap.security,
            "imap_username": self.imap.username,
            "imap_folder": self.folder,
            "recipients": list(self.recipients),
            "history_days": self.history_days,
        }

    def credentials(self) -> dict[str, str]:
        return {"smtp_password": self.smtp.password, "imap_password": self.imap.password}


def _setting_error(message: str) -> ProviderError:
    return ProviderError(
        message + " Connect the channel again with corrected settings.", "permanent"
    )


def _server(
    config: Mapping[str, Any],
    credentials: Mapping[str, Any],
    prefix: str,
    *,
    default_port: int,
    default_security: str,
) -> Server:
    name = prefix.upper()
    host = str(config.get(f"{prefix}_host") or "").strip()
    if not host or any(c.isspace() for c in host):
        raise _setting_error(f"The {name} server name “{host}” is missing or not a host name.")
    try:
        port = int(config.get(f"{prefix}_port") or default_port)
    except (TypeError, ValueError):
        raise _setting_error(f"The {name} port must be a number.") from None
    if not 0 < port < 65536:
        raise _setting_error(f"The {name} port {port} is not a valid port number.")
    security = str(config.get(f"{prefix}_security") or default_security)
    if security not in SECURITY_VALUES:
        raise _setting_error(f"The {name} security setting “{security}” is unknown.")
    return Server(
        host=host,
        port=port,
        security=security,
        username=str(config.get(f"{prefix}_username") or "").strip(),
        password=str(credentials.get(f"{prefix}_password") or ""),
    )


def mail_settings(config: Mapping[str, Any], credentials: Mapping[str, Any]) -> MailSettings:
    """Settings from the connect form's data or a stored channel; a clear error if unusable."""
    address = str(config.get("address") or "").strip()
    try:
        validate_email(address)
    except ValidationError:
        raise _setting_error(f"The mailbox address “{address}” is not an e-mail address.") from None
    recipients, invalid = split_addresses(config.get("recipients"))
    if invalid:
        raise _setting_error(f"These bulletin recipients are not addresses: {', '.join(invalid)}.")
    try:
        history_days = int(config.get("history_days", 7) or 0)
    except (TypeError, ValueError):
        history_days = 7
    return MailSettings(
        address=address,
        display_name=one_line(str(config.get("display_name") or ""))[:100],
        smtp=_server(config, credentials, "smtp", default_port=587, default_security="starttls"),
        imap=_server(config, credentials, "imap", default_port=993, default_security="ssl"),
        folder=str(config.get("imap_folder") or "").strip() or "INBOX",
        recipients=tuple(recipients),
        history_days=max(0, min(history_days, 3650)),
    )
