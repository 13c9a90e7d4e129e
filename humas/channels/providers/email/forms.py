"""The form an administrator fills in to connect an agency mailbox."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

SECURITY_CHOICES = [
    ("starttls", _("STARTTLS (usually port 587 for SMTP, 143 for IMAP)")),
    ("ssl", _("SSL/TLS (usually port 465 for SMTP, 993 for IMAP)")),
    ("none", _("None — only on a trusted internal network")),
]
SECURITY_VALUES = {value for value, _label in SECURITY_CHOICES}
SEPARATORS_RE = re.compile(r"[\s,;]+")


def split_addresses(value: str | list[str] | tuple[str, ...] | None) -> tuple[list[str], list[str]]:
    """(valid addresses, invalid entries) from a comma/semicolon/newline separated list.

    Valid addresses keep their first spelling and appear once, compared without case.
    """
    if value is None:
        items: list[str] = []
    elif isinstance(value, str):
        items = SEPARATORS_RE.split(value)
    else:
        items = [str(item) for item in value]
    valid: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            validate_email(item)
        except ValidationError:
            invalid.append(item)
            continue
        if item.lower() not in seen:
            seen.add(item.lower())
            valid.append(item)
    return valid, invalid


class EmailConnectForm(forms.Form):
    address = forms.EmailField(
        label=_("Mailbox address"),
        help_text=_("The agency's mailbox that citizens write to, e.g. pengaduan@kota.go.id."),
    )
    display_name = forms.CharField(
        label=_("Sender name"),
        max_length=100,
        required=False,
        help_text=_("Shown to recipients, e.g. “Humas Pemerintah Kota”."),
    )
    smtp_host = forms.CharField(label=_("SMTP server (sending)"), max_length=255)
    smtp_port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(
        label=_("SMTP security"), choices=SECURITY_CHOICES, initial="starttls"
    )
    smtp_username = forms.CharField(
        label=_("SMTP user name"),
        max_length=255,
        required=False,
        help_text=_("Leave empty to log in with the mailbox address."),
    )
    smtp_password = forms.CharField(
        label=_("SMTP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput,
        help_text=_("Leave empty only for an internal relay that accepts mail without a login."),
    )
    imap_host = forms.CharField(label=_("IMAP server (receiving)"), max_length=255)
    imap_port = forms.IntegerField(label=_("IMAP port"), min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(
        label=_("IMAP security"), choices=SECURITY_CHOICES, initial="ssl"
    )
    imap_username = forms.CharField(
        label=_("IMAP user name"),
        max_length=255,
        required=False,
        help_text=_("Leave empty to log in with the mailbox address."),
    )
    imap_password = forms.CharField(
        label=_("IMAP password"), strip=False, widget=forms.PasswordInput
    )
    imap_folder = forms.CharField(
        label=_("Folder to read"),
        max_length=255,
        required=False,
        initial="INBOX",
        help_text=_("Citizens' messages are read from this folder; usually INBOX."),
    )
    recipients = forms.CharField(
        label=_("Bulletin recipients"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Addresses that receive bulletins, separated by commas or new lines, or one "
            "mailing-list address. Each bulletin is sent to them as Bcc, so recipients never "
            "see each other's addresses."
        ),
    )
    history_days = forms.IntegerField(
        label=_("Read earlier messages (days)"),
        min_value=0,
        max_value=90,
        initial=7,
        required=False,
        help_text=_(
            "When first connected, messages that arrived this many days back are read too; "
            "0 reads only new ones."
        ),
    )

    def clean_recipients(self) -> list[str]:
        valid, invalid = split_addresses(self.cleaned_data.get("recipients"))
        if invalid:
            raise ValidationError(
                _("These are not e-mail addresses: %(items)s"),
                params={"items": ", ".join(invalid)},
            )
        return valid

    def clean_imap_folder(self) -> str:
        return (self.cleaned_data.get("imap_folder") or "").strip() or "INBOX"

    def clean_history_days(self) -> int:
        value = self.cleaned_data.get("history_days")
        return 7 if value is None else int(value)
