"""Real mail servers for the e-mail provider's tests, all on 127.0.0.1.

- :class:`Dovecot`: a private Dovecot IMAP server (Debian's ``dovecot-imapd``) started as a
  subprocess with its own configuration, passwd-file users and maildirs in a temporary
  directory, stopped and removed at the end. Nothing of the system's Dovecot is used.
- :func:`smtp_server`: an aiosmtpd server whose handler keeps what it receives, or answers
  with a chosen failure.
- :class:`DroppingProxy`: forwards to a server and cuts the connection when the client sends
  a chosen command, to reproduce a connection lost in the middle of a FETCH.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import os
import pwd
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

INSTALL_HINT = "apt-get install dovecot-imapd"
POOL_SIZE = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path
    pem: str

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this certificate (hostname checks stay on)."""
        return ssl.create_default_context(cadata=self.pem)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "humas test mail server")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_text(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Certificate(cert_path, key_path, pem)


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    # /usr/sbin is not on every user's PATH.
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


@dataclass
class Mailbox:
    """One IMAP user on the test server; ``append`` delivers a message into its INBOX."""

    host: str
    port: int
    username: str
    password: str

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.username, self.password)
        return conn

    def append(self, *messages: bytes, folder: str = "INBOX") -> list[int]:
        """Deliver ``messages`` by IMAP APPEND, in order; return their UIDs."""
        conn = self.connect()
        uids = []
        try:
            for data in messages:
                status, response = conn.append(folder, None, None, data)
                assert status == "OK", response
                # "[APPENDUID <uidvalidity> <uid>] Append completed."
                uids.append(int(response[0].decode().split("]")[0].split()[-1]))
        finally:
            conn.logout()
        return uids

    def flags(self, uid: int, folder: str = "INBOX") -> str:
        conn = self.connect()
        try:
            conn.select(folder, readonly=True)
            _status, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            return data[0].decode() if data and data[0] else ""
        finally:
            conn.logout()

    def create_folder(self, name: str) -> None:
        conn = self.connect()
        try:
            status, response = conn.create(name)
            assert status == "OK", response
        finally:
            conn.logout()


class Dovecot:
    """A private Dovecot instance; one per test session, one user per test."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="humas-dovecot-"))
        # Dovecot's login and internal processes run as unprivileged users and must reach the
        # sockets under base_dir.
        self.root.chmod(0o755)
        self.port = free_port()
        self.tls_port = free_port()
        self.certificate = make_certificate(self.root)
        self.users_file = self.root / "users"
        # Dovecot rereads a changed passwd-file at most once a second, so users added during
        # the run could be refused; the whole pool exists before the server starts.
        self.users_file.write_text(
            "".join(
                f"pengaduan{n}:{{PLAIN}}rahasia-imap-{n}::::::\n" for n in range(1, POOL_SIZE + 1)
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._count = 0
        self._lock = threading.Lock()

    def _accounts(self) -> tuple[str, str, str, int, int]:
        """(login user, internal user, its group, mail uid, mail gid)."""
        if os.geteuid() == 0:
            # Dovecot refuses to run imap-login as root and mail processes as UID 0: use the
            # system users the Debian package creates.
            try:
                internal = pwd.getpwnam("dovecot")
                pwd.getpwnam("dovenull")
            except KeyError as exc:
                raise RuntimeError(
                    f"the users dovecot and dovenull are missing ({INSTALL_HINT} creates them)"
                ) from exc
            group = _group_name(internal.pw_gid)
            return "dovenull", "dovecot", group, internal.pw_uid, internal.pw_gid
        me = pwd.getpwuid(os.getuid())
        return me.pw_name, me.pw_name, _group_name(me.pw_gid), me.pw_uid, me.pw_gid

    def config(self) -> str:
        login, internal, group, uid, gid = self._accounts()
        root = self.root
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = humas-test-{self.port}
log_path = {root}/dovecot.log
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 0
# STARTTLS on the plain port, implicit TLS on the second one, with a throw-away certificate.
ssl = yes
ssl_cert = <{self.certificate.cert_path}
ssl_key = <{self.certificate.key_path}
# Plain-text logins on 127.0.0.1 only: this server exists for the length of a test run.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_fsync = never
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_file}
  default_fields = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No growing delay for logins after a failed one (a test that checks a wrong password
  # would otherwise slow down every test after it).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def start(self) -> None:
        _login, _internal, _group, uid, gid = self._accounts()
        for name in ("run", "state", "mail"):
            (self.root / name).mkdir()
        if os.geteuid() == 0:
            os.chown(self.root / "mail", uid, gid)
        config = self.root / "dovecot.conf"
        config.write_text(self.config())
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("wb"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.log()}")

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def new_mailbox(self) -> Mailbox:
        """The next unused user: each test gets an empty mailbox of its own."""
        with self._lock:
            self._count += 1
            if self._count > POOL_SIZE:
                raise RuntimeError(f"the test Dovecot has only {POOL_SIZE} users")
            number = self._count
        return Mailbox("127.0.0.1", self.port, f"pengaduan{number}", f"rahasia-imap-{number}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Collector:
    """aiosmtpd handler: keeps each message it accepts.

    ``answers`` are used one per DATA (then ``answer``; "" accepts); ``refuse`` lists
    recipients answered with 550 at RCPT.
    """

    received: list[Received] = field(default_factory=list)
    answer: str = ""
    answers: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    data_commands: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        answer = self.answers.pop(0) if self.answers else self.answer
        if answer:
            return answer
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 2.0.0 Ok: queued"


@dataclass
class SmtpServer:
    port: int
    handler: Collector
    host: str = "127.0.0.1"

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def accept_login(login: bytes, password: bytes) -> Any:
    """An aiosmtpd authenticator accepting exactly one user name and password."""

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (login, password)
        return AuthResult(success=ok, handled=False)

    return authenticator


@contextlib.contextmanager
def smtp_server(**options: Any) -> Iterator[SmtpServer]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port=port, handler=handler)
    finally:
        controller.stop()


# --- a proxy that drops the connection --------------------------------------------------------


class DroppingProxy:
    """Forwards TCP to ``port``; closes both sides when the client sends ``trigger``."""

    def __init__(self, port: int, trigger: bytes) -> None:
        self.target = port
        self.trigger = trigger
        self.drops = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        try:
            while not self._stopped.is_set():
                ready, _w, _x = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self.trigger in data:
                        self.drops += 1
                        return
                    (upstream if sock is client else client).sendall(data)
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()
        self._thread.join(timeout=5)
