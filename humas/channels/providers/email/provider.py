"""E-mail as a channel: bulletins out over SMTP, citizens' messages in over IMAP.

An agency mailbox (``pengaduan@kota.go.id``) is connected with its SMTP and IMAP servers.
Publishing sends one bulletin, addressed to the agency itself with the subscribers as Bcc
(envelope recipients only, so no subscriber sees another). Each citizen e-mail in the IMAP
folder becomes a direct-message event threaded by its References header, and a reply goes
back to the citizen with In-Reply-To/References so their mail program threads it too.

E-mail does not go through ``humas.lib.http``; the same rules are kept here: every socket
has a timeout, transient failures (refused or dropped connections, timeouts, 4xx replies)
are retried a bounded number of times with full jitter, and every failure leaves as a
ProviderError whose kind says what to do next. The IMAP folder is opened read-only and
messages are read with BODY.PEEK, so polling never marks anything as read for the people
who also use the mailbox in their own mail program.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import random
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cached_property, partial
from typing import Any, TypeVar

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from humas.channels.providers.base import (
    AccountInfo,
    Capabilities,
    Connection,
    ErrorKind,
    InboundEvent,
    Limits,
    PostContent,
    Provider,
    ProviderError,
    Published,
)
from humas.channels.providers.email import parsing
from humas.channels.providers.email.errors import (
    imap_error,
    imap_reply,
    smtp_error,
    smtp_reply,
    text_of,
)
from humas.channels.providers.email.forms import EmailConnectForm
from humas.channels.providers.email.settings import MailSettings, mail_settings, one_line

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TEXT = 100_000
MAX_SUBJECT = 200
MAX_ATTACHMENT_BYTES = 10_000_000
MAX_TOTAL_ATTACHMENT_BYTES = 20_000_000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
ATTACHMENT_TYPES = (*IMAGE_TYPES, "application/pdf")
# Many submission servers cap recipients per message (often at 100); bigger lists go out as
# several copies of the same message, same Message-ID.
RECIPIENTS_PER_MESSAGE = 50
# Inbound: at most this many messages per fetch_inbound call, and at most this many bytes
# read per call (the first message is always read, within MAX_MESSAGE_BYTES).
BATCH_SIZE = 50
BATCH_BYTES = 50_000_000
# Larger messages are read as headers only; the editor sees who wrote and that the body
# was too large to read.
MAX_MESSAGE_BYTES = 40_000_000
DEFAULT_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 3
MAX_PAUSE = 20.0

REPLY_PREFIX_RE = re.compile(r"^\s*(?:(?:re|aw|sv|bls|balas)(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
FETCH_UID_RE = re.compile(rb"\bUID (\d+)")
FETCH_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
FETCH_DATE_RE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# IMAP response codes (RFC 5530) that mean "not now" rather than "wrong password".
IMAP_TEMPORARY_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]")


def tls_context() -> ssl.SSLContext:
    """Certificates are verified against the system store (tests swap in their own CA)."""
    return ssl.create_default_context()


# --- small helpers ----------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


def reply_subject(subject: str) -> str:
    """ "Re: " once, however many "Re:", "AW:" or "Bls:" the citizen's program stacked."""
    base = REPLY_PREFIX_RE.sub("", one_line(subject))
    return shorten(f"Re: {base}" if base else "Re:", MAX_SUBJECT)


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3), e.g. for "Pengaduan Warga é"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _last_int(data: list[Any] | None) -> int | None:
    for item in reversed(data or []):
        if item is None:
            continue
        try:
            return int(text_of(item).split()[0])
        except (ValueError, IndexError):
            continue
    return None


def _internaldate(value: bytes) -> datetime | None:
    """An IMAP INTERNALDATE ("29-Nov-2025 10:09:46 +0700") without locale-dependent %b."""
    try:
        day, month, rest = value.decode("ascii").strip().split("-", 2)
        clock, zone = rest.split(" ", 1)[1].split(" ")
        year = int(rest.split(" ", 1)[0])
        hour, minute, second = (int(part) for part in clock.split(":"))
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        tz_sign = -1 if zone[0] == "-" else 1
        when = datetime(
            year, MONTHS.index(month.title()) + 1, int(day), hour, minute, second, tzinfo=UTC
        )
        return when - tz_sign * offset
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


# --- the provider -----------------------------------------------------------------------------


class EmailProvider(Provider):
    """One agency mailbox: bulletins and replies over SMTP, citizens' mail over IMAP."""

    network = "email"
    label = _("Email")  # lazy: shown in the editor's language
    capabilities = Capabilities(
        publish=True,
        delete=False,
        reply=True,
        threads=False,
        direct_messages=True,
        post_metrics=False,
        account_metrics=False,
        polling=True,
        webhooks=False,
        link_cards=False,
    )
    limits = Limits(
        max_text=MAX_TEXT,
        max_images=20,
        image_types=IMAGE_TYPES,
        max_image_bytes=MAX_ATTACHMENT_BYTES,
    )
    connect_form = EmailConnectForm

    def __init__(
        self,
        *,
        credentials: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
        channel_key: str = "new",
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(
            credentials=credentials,
            config=config,
            channel_key=channel_key,
            transport=transport,
            sleep=sleep,
        )
        self.timeout = timeout
        self.attempts = max(1, attempts)

    @cached_property
    def settings(self) -> MailSettings:
        return mail_settings(self.config, self.credentials)

    # --- connecting ---------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        data: Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> Connection:
        """Log in to both servers with the form's data; store passwords as credentials."""
        settings = mail_settings(data, data)
        provider = cls(
            credentials=settings.credentials(),
            config=settings.config(),
            transport=transport,
            **options,
        )
        return Connection(
            account=provider.account_info(),
            credentials=settings.credentials(),
            config=settings.config(),
        )

    def account_info(self) -> AccountInfo:
        """Both logins must work: a channel that can send but not read is half broken."""
        self._with_retries(lambda: self._close_smtp(self._open_smtp()), self._smtp_error)
        self._with_retries(self._check_imap, self._imap_error)
        settings = self.settings
        return AccountInfo(
            external_id=settings.address.lower(),
            handle=settings.address,
            display_name=settings.display_name,
        )

    # --- publishing ---------------------------------------------------------------------

    def validate(self, content: PostContent) -> list[str]:
        problems: list[str] = []
        if len(content.text) > MAX_TEXT:
            problems.append(
                str(_("The text is %(n)d characters long; an e-mail takes at most %(max)d."))
                % {"n": len(content.text), "max": MAX_TEXT}
            )
        subject = content.options.get("subject")
        if subject is not None and (
            not isinstance(subject, str) or len(one_line(subject)) > MAX_SUBJECT
        ):
            problems.append(
                str(_("The subject can be at most %(max)d characters.")) % {"max": MAX_SUBJECT}
            )
        total = 0
        for item in content.media:
            name = item.filename or item.mime_type
            total += item.byte_size
            if item.mime_type not in ATTACHMENT_TYPES:
                problems.append(
                    str(_("“%(name)s” cannot be attached: e-mails here take images and PDFs."))
                    % {"name": name}
                )
            elif item.byte_size > MAX_ATTACHMENT_BYTES:
                problems.append(
                    str(_("“%(name)s” is %(size)s; each attachment can be at most %(max)s."))
                    % {"name": name, "size": _mb(item.byte_size), "max": _mb(MAX_ATTACHMENT_BYTES)}
                )
        if total > MAX_TOTAL_ATTACHMENT_BYTES:
            problems.append(
                str(_("The attachments add up to %(size)s; together they can be at most %(max)s."))
                % {"size": _mb(total), "max": _mb(MAX_TOTAL_ATTACHMENT_BYTES)}
            )
        return problems

    def publish(self, content: PostContent) -> Published:
        """Send one bulletin: To the agency itself, the subscribers only in the envelope."""
        self._refuse_invalid(content)
        settings = self.settings
        message = self._compose(content, subject=self._subject(content), to=settings.address)
        # RFC 3834: autoresponders stay quiet for bulk mail, so a bulletin to thousands does
        # not fill the agency's inbox with out-of-office answers.
        message["Precedence"] = "bulk"
        envelope = [settings.address, *settings.recipients]
        unique = list({address.lower(): address for address in envelope}.values())
        batches = [
            unique[i : i + RECIPIENTS_PER_MESSAGE]
            for i in range(0, len(unique), RECIPIENTS_PER_MESSAGE)
        ]
        outcome = self._deliver(message, batches)
        return Published(external_id=str(message["Message-ID"]), extra=outcome)

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        """Answer the citizen by e-mail, threaded under their message."""
        self._refuse_invalid(content)
        citizen = (event.author_handle or event.author_id).strip()
        try:
            validate_email(citizen)
        except ValidationError:
            raise ProviderError(
                f"This message has no usable sender address (“{citizen}”), so it cannot be "
                "answered by e-mail.",
                ErrorKind.PERMANENT,
            ) from None
        raw = event.raw or {}
        original_subject = str(raw.get("subject") or "")
        subject = reply_subject(original_subject or self._subject(content))
        message = self._compose(content, subject=subject, to=citizen)
        # Only well-formed ids go into headers: raw comes back from the database.
        candidates = [str(raw.get("message_id") or ""), event.external_id]
        message_id = next((c for c in candidates if parsing.MESSAGE_ID_RE.fullmatch(c)), "")
        if message_id:
            message["In-Reply-To"] = message_id
            references = [
                ref
                for ref in raw.get("references") or []
                if isinstance(ref, str) and parsing.MESSAGE_ID_RE.fullmatch(ref)
            ]
            chain = [*references, message_id]
            # RFC 5322 §3.6.4 allows trimming; the first id (the thread's root) must stay.
            if len(chain) > 20:
                chain = [chain[0], *chain[-19:]]
            message["References"] = " ".join(chain)
        outcome = self._deliver(message, [[citizen]])
        return Published(external_id=str(message["Message-ID"]), extra=outcome)

    def _refuse_invalid(self, content: PostContent) -> None:
        problems = self.validate(content)
        if problems:
            raise ProviderError(" ".join(problems), ErrorKind.PERMANENT)

    def _subject(self, content: PostContent) -> str:
        subject = content.options.get("subject")
        if isinstance(subject, str) and subject.strip():
            return shorten(one_line(subject), MAX_SUBJECT)
        for line in content.text.splitlines():
            if line.strip():
                return shorten(one_line(line), MAX_SUBJECT)
        return self.settings.display_name or self.settings.address

    def _compose(self, content: PostContent, *, subject: str, to: str) -> EmailMessage:
        settings = self.settings
        message = EmailMessage()
        message["From"] = Address(display_name=settings.display_name, addr_spec=settings.address)
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=settings.domain)
        text = content.text
        if content.link and content.link not in text:
            text = f"{text}\n\n{content.link}" if text else content.link
        message.set_content(text)
        for number, item in enumerate(content.media, start=1):
            maintype, _slash, subtype = item.mime_type.partition("/")
            filename = item.filename or f"attachment-{number}.{subtype or 'bin'}"
            message.add_attachment(
                item.data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
            )
        # Set last: adding attachments moves every Content-* header into the text part.
        if parsing.LANGUAGE_TAG_RE.match(content.language or ""):
            message["Content-Language"] = content.language
        return message

    def _deliver(self, message: EmailMessage, batches: list[list[str]]) -> dict[str, Any]:
        """Send ``message`` to each batch of envelope recipients over one SMTP session.

        A batch that keeps failing after an earlier one went out is not raised: raising would
        make the caller send the whole bulletin again to people who already have it. The
        outcome then lists who did not get it.
        """
        settings = self.settings
        client: smtplib.SMTP | None = None
        delivered = 0
        refused: dict[str, str] = {}

        def send(batch: list[str]) -> dict[str, tuple[int, bytes]]:
            nonlocal client
            if client is None:
                client = self._open_smtp()
            try:
                return client.send_message(message, from_addr=settings.address, to_addrs=batch)
            except BaseException:
                self._close_smtp(client)
                client = None
                raise

        try:
            for number, batch in enumerate(batches):
                try:
                    rejected = self._with_retries(partial(send, batch), self._smtp_error)
                except ProviderError as exc:
                    if not delivered:
                        raise
                    undelivered = [a for rest in batches[number:] for a in rest]
                    logger.warning(
                        "bulletin %s reached %d recipients; %d were not sent: %s",
                        message["Message-ID"],
                        delivered,
                        len(undelivered),
                        exc.message,
                    )
                    return {
                        "delivered": delivered,
                        "undelivered": undelivered,
                        "refused": refused,
                        "error": exc.message,
                    }
                delivered += len(batch) - len(rejected)
                refused.update(
                    {address: smtp_reply(code, text) for address, (code, text) in rejected.items()}
                )
        finally:
            if client is not None:
                self._close_smtp(client)
        if refused:
            logger.warning("%s: some recipients were refused: %s", message["Message-ID"], refused)
        return {"delivered": delivered, "refused": refused}

    # --- SMTP sessions ------------------------------------------------------------------

    def _open_smtp(self) -> smtplib.SMTP:
        settings = self.settings
        server = settings.smtp
        client: smtplib.SMTP
        # The agency's domain as the EHLO name: socket.getfqdn() can stall on a machine
        # without reverse DNS, and says nothing useful about the sender anyway.
        if server.security == "ssl":
            client = smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=settings.domain,
                timeout=self.timeout,
                context=tls_context(),
            )
        else:
            client = smtplib.SMTP(
                server.host, server.port, local_hostname=settings.domain, timeout=self.timeout
            )
        try:
            client.ehlo()
            if server.security == "starttls":
                if not client.has_extn("starttls"):
                    raise ProviderError(
                        f"The SMTP server {server} does not offer STARTTLS, and humas does not "
                        "send passwords unencrypted. Choose SSL/TLS or the right port.",
                        ErrorKind.AUTH,
                    )
                client.starttls(context=tls_context())
                client.ehlo()
            if server.password:
                login = server.username or settings.address
                if not (login + server.password).isascii():
                    raise ProviderError(
                        "The SMTP user name or password contains characters other than plain "
                        "ASCII, which SMTP login cannot carry. Use an ASCII password.",
                        ErrorKind.AUTH,
                    )
                client.login(login, server.password)
        except BaseException:
            client.close()
            raise
        return client

    @staticmethod
    def _close_smtp(client: smtplib.SMTP) -> None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def _smtp_error(self, exc: BaseException) -> ProviderError:
        server = self.settings.smtp
        return smtp_error(exc, server, server.username or self.settings.address)

    # --- hearing ------------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        """Citizens' messages after ``cursor`` ("UIDVALIDITY:last UID"), at most 50 a call.

        Reading is idempotent, so a dropped connection is retried from the start; if it keeps
        failing the error leaves before a new cursor exists, and the caller keeps the old one.
        """
        return self._with_retries(lambda: self._fetch_once(cursor), self._imap_error)

    def _fetch_once(self, cursor: str) -> tuple[list[InboundEvent], str]:
        settings = self.settings
        conn = self._open_imap()
        try:
            validity, uidnext = self._select(conn)
            last = self._last_uid(cursor, validity)
            if last is None:
                floor = 0
                uids = self._first_poll_uids(conn)
                if uidnext is None:
                    everything = self._search(conn, "ALL")
                    uidnext = max(everything, default=0) + 1
            else:
                floor = last
                # "N:*" always matches the last message, even when its UID is below N
                # (RFC 3501 §6.4.8), hence the filter below.
                uids = self._search(conn, f"UID {last + 1}:*")
            uids = sorted(uid for uid in set(uids) if uid > floor)
            if not uids:
                keep = floor if last is not None else max(0, (uidnext or 1) - 1)
                return [], f"{validity}:{keep}"
            batch = uids[:BATCH_SIZE]
            sizes = self._fetch_sizes(conn, batch)
            readable: list[int] = []
            too_large: list[int] = []
            total = 0
            for uid in batch:
                size = sizes.get(uid, (0, None))[0]
                if size > MAX_MESSAGE_BYTES:
                    too_large.append(uid)
                    continue
                if readable and total + size > BATCH_BYTES:
                    # The rest waits for the next call; the cursor stops before it.
                    batch = batch[: batch.index(uid)]
                    too_large = [u for u in too_large if u in batch]
                    break
                readable.append(uid)
                total += size
            bodies = self._fetch_literals(conn, readable, "BODY.PEEK[]")
            headers = self._fetch_literals(conn, too_large, "BODY.PEEK[HEADER]")
            events: list[InboundEvent] = []
            for uid in batch:
                size, arrived = sizes.get(uid, (0, None))
                if uid in bodies:
                    event = self._event(bodies[uid], uid, validity, arrived, size, whole=True)
                elif uid in headers:
                    event = self._event(headers[uid], uid, validity, arrived, size, whole=False)
                else:
                    # Expunged between SEARCH and FETCH: nothing left to read.
                    logger.info(
                        "%s: message UID %s vanished before it was read", settings.address, uid
                    )
                    continue
                if event is not None:
                    events.append(event)
            return events, f"{validity}:{batch[-1]}"
        finally:
            self._logout(conn)

    def _event(
        self,
        data: bytes,
        uid: int,
        validity: int,
        arrived: datetime | None,
        size: int,
        *,
        whole: bool,
    ) -> InboundEvent | None:
        settings = self.settings
        try:
            message = parsing.parse_message(data)
        except Exception:
            logger.exception("%s: message UID %s could not be parsed at all", settings.address, uid)
            return None
        try:
            reason = parsing.skip_reason(message, settings.address)
        except Exception:
            # When in doubt, a person looks at it: a wrongly kept bounce costs less than a
            # lost complaint.
            logger.exception("%s: message UID %s could not be classified", settings.address, uid)
            reason = ""
        if reason:
            logger.info("%s: skipped message UID %s: %s", settings.address, uid, reason)
            return None
        unread = "" if whole else f"the message is {_mb(size)}, larger than humas reads"
        for attempt in (unread, "the message could not be read"):
            try:
                return parsing.to_event(
                    message,
                    uid=uid,
                    uidvalidity=validity,
                    folder=settings.folder,
                    arrived_at=arrived,
                    size=size,
                    unread_body=attempt,
                )
            except Exception:
                # A parser bug must not stop the poll or lose the citizen: the second
                # round keeps who wrote and when, from the headers alone.
                logger.exception("%s: message UID %s could not be read", settings.address, uid)
        return None

    def _last_uid(self, cursor: str, validity: int) -> int | None:
        """The last UID read, or None when the folder must be read from the start."""
        if not cursor:
            return None
        stored_validity, _colon, last = cursor.partition(":")
        try:
            if int(stored_validity) == validity:
                return int(last)
        except ValueError:
            logger.warning("%s: unreadable cursor %r; reading again", self.settings.address, cursor)
            return None
        # The server renumbered the folder (restored, migrated): old UIDs mean nothing now.
        # Reading again is safe because stored events are unique per Message-ID.
        logger.warning(
            "%s: UIDVALIDITY of %s changed from %s to %s; reading the folder again",
            self.settings.address,
            self.settings.folder,
            stored_validity,
            validity,
        )
        return None

    def _first_poll_uids(self, conn: imaplib.IMAP4) -> list[int]:
        days = self.settings.history_days
        if days <= 0:
            return []
        since = (datetime.now(UTC) - timedelta(days=days)).date()
        return self._search(conn, f"SINCE {since.day}-{MONTHS[since.month - 1]}-{since.year}")

    # --- IMAP sessions ------------------------------------------------------------------

    def _open_imap(self) -> imaplib.IMAP4:
        server = self.settings.imap
        conn: imaplib.IMAP4
        if server.security == "ssl":
            conn = imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=tls_context(), timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(server.host, server.port, timeout=self.timeout)
        try:
            if server.security == "starttls":
                if "STARTTLS" not in conn.capabilities:
                    raise ProviderError(
                        f"The IMAP server {server} does not offer STARTTLS, and humas does not "
                        "send passwords unencrypted. Choose SSL/TLS or the right port.",
                        ErrorKind.AUTH,
                    )
                conn.starttls(ssl_context=tls_context())
            self._imap_login(conn)
        except BaseException:
            self._shutdown(conn)
            raise
        return conn

    def _imap_login(self, conn: imaplib.IMAP4) -> None:
        server = self.settings.imap
        login = server.username or self.settings.address
        try:
            if (login + server.password).isascii():
                conn.login(login, server.password)
            else:
                # LOGIN's quoted strings are ASCII only; AUTHENTICATE PLAIN carries UTF-8.
                token = f"\0{login}\0{server.password}".encode()
                conn.authenticate("PLAIN", lambda _challenge: token)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            reply = imap_reply(exc)
            if any(code in reply.upper() for code in IMAP_TEMPORARY_CODES):
                raise ProviderError(
                    f"The IMAP server {server} cannot log in right now ({reply}).",
                    ErrorKind.TRANSIENT,
                ) from exc
            raise ProviderError(
                f"The IMAP server {server} refused the login for {login} ({reply}). Check the "
                "user name and password.",
                ErrorKind.AUTH,
            ) from exc

    def _check_imap(self) -> None:
        conn = self._open_imap()
        try:
            self._select(conn)
        finally:
            self._logout(conn)

    def _select(self, conn: imaplib.IMAP4) -> tuple[int, int | None]:
        """Open the folder read-only; return (UIDVALIDITY, UIDNEXT or None)."""
        settings = self.settings
        mailbox = imap_quote(imap_utf7(settings.folder))
        status, data = conn.select(mailbox, readonly=True)
        if status != "OK":
            raise ProviderError(
                f"The folder “{settings.folder}” cannot be opened on the IMAP server "
                f"{settings.imap} ({text_of(data[-1] if data else '')}). Check the folder name.",
                ErrorKind.PERMANENT,
            )
        validity = _last_int(conn.response("UIDVALIDITY")[1])
        uidnext = _last_int(conn.response("UIDNEXT")[1])
        if validity is None or uidnext is None:
            status, data = conn.status(mailbox, "(UIDVALIDITY UIDNEXT)")
            line = text_of(data[-1] if data else b"")
            validity = validity or _named_int(line, "UIDVALIDITY")
            uidnext = uidnext or _named_int(line, "UIDNEXT")
        if validity is None:
            raise ProviderError(
                f"The IMAP server {settings.imap} did not say the folder's UIDVALIDITY.",
                ErrorKind.TRANSIENT,
            )
        return validity, uidnext

    @staticmethod
    def _search(conn: imaplib.IMAP4, criteria: str) -> list[int]:
        status, data = conn.uid("SEARCH", criteria)
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH failed: {text_of(data[-1] if data else '')}")
        found: list[int] = []
        for item in data:
            for token in text_of(item).split():
                if token.isdigit():
                    found.append(int(token))
        return found

    @staticmethod
    def _fetch_sizes(
        conn: imaplib.IMAP4, uids: list[int]
    ) -> dict[int, tuple[int, datetime | None]]:
        status, data = conn.uid(
            "FETCH", ",".join(str(uid) for uid in uids), "(RFC822.SIZE INTERNALDATE)"
        )
        if status != "OK":
            raise imaplib.IMAP4.error(f"FETCH failed: {text_of(data[-1] if data else '')}")
        found: dict[int, tuple[int, datetime | None]] = {}
        for item in data:
            line = (
                b"".join(part for part in item if isinstance(part, bytes))
                if isinstance(item, tuple)
                else item
            )
            if not isinstance(line, bytes):
                continue
            uid = FETCH_UID_RE.search(line)
            size = FETCH_SIZE_RE.search(line)
            date = FETCH_DATE_RE.search(line)
            if uid:
                found[int(uid[1])] = (
                    int(size[1]) if size else 0,
                    _internaldate(date[1]) if date else None,
                )
        return found

    @staticmethod
    def _fetch_literals(conn: imaplib.IMAP4, uids: list[int], item: str) -> dict[int, bytes]:
        if not uids:
            return {}
        status, data = conn.uid("FETCH", ",".join(str(uid) for uid in uids), f"({item})")
        if status != "OK":
            raise imaplib.IMAP4.error(f"FETCH failed: {text_of(data[-1] if data else '')}")
        found: dict[int, bytes] = {}
        waiting: bytes | None = None
        for entry in data:
            if isinstance(entry, tuple) and len(entry) >= 2:
                head, literal = entry[0], entry[1]
                uid = FETCH_UID_RE.search(head)
                if uid:
                    found[int(uid[1])] = literal
                    waiting = None
                else:
                    # Some servers send "UID n" after the literal, in the closing line.
                    waiting = literal
            elif isinstance(entry, bytes) and waiting is not None:
                uid = FETCH_UID_RE.search(entry)
                if uid:
                    found[int(uid[1])] = waiting
                waiting = None
        return found

    @staticmethod
    def _logout(conn: imaplib.IMAP4) -> None:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            EmailProvider._shutdown(conn)

    @staticmethod
    def _shutdown(conn: imaplib.IMAP4) -> None:
        with contextlib.suppress(OSError, EOFError, AttributeError):
            conn.shutdown()

    def _imap_error(self, exc: BaseException) -> ProviderError:
        return imap_error(exc, self.settings.imap)

    # --- retries --------------------------------------------------------------------------

    def _with_retries(
        self, call: Callable[[], T], to_error: Callable[[BaseException], ProviderError]
    ) -> T:
        """Run ``call``; retry transient failures with full jitter, a bounded number of times.

        Auth and permanent failures leave at once: trying a wrong password again only gets
        the mailbox locked by the server's brute-force protection.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except ProviderError as exc:
                error = exc
            except (OSError, EOFError, imaplib.IMAP4.error) as exc:
                error = to_error(exc)
                error.__cause__ = exc
            if error.kind != ErrorKind.TRANSIENT or attempt == self.attempts:
                raise error
            pause = random.uniform(0, min(MAX_PAUSE, 1.0 * 2**attempt))  # noqa: S311
            logger.info(
                "%s (attempt %d of %d); trying again in %.1f s",
                error.message,
                attempt,
                self.attempts,
                pause,
            )
            self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


def _named_int(line: str, name: str) -> int | None:
    found = re.search(rf"\b{name} (\d+)", line)
    return int(found[1]) if found else None


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
