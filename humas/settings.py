"""Settings for humas, read from the environment.

Defaults give a working local installation (SQLite under ``var/``, a generated secret key,
e-mail printed to the console). Production sets ``SITE_URL`` to an https address,
``DATABASE_URL``, ``SECRET_KEY`` (or ``SECRET_KEY_FILE``) and ``HUMAS_FERNET_KEYS``;
``humas check --deploy`` then reports nothing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from humas.lib.env import env_bool, env_int, env_list, env_str, persisted_secret
from humas.lib.storage import storages_from_env

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("HUMAS_DATA_DIR") or BASE_DIR.parent / "var").resolve()

DEBUG = env_bool("DEBUG", False)

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
HTTPS = _site.scheme == "https"

# A generated key is kept in var/ so that sessions survive restarts of a local install.
SECRET_KEY_FROM_ENV = bool(env_str("SECRET_KEY"))
SECRET_KEY = env_str("SECRET_KEY") or persisted_secret(DATA_DIR / "secret_key")

# Keys for channel secrets at rest; the first encrypts, all decrypt (rotation).
FERNET_KEYS_FROM_ENV = bool(env_str("HUMAS_FERNET_KEYS"))
FERNET_KEYS = env_list("HUMAS_FERNET_KEYS") or [
    persisted_secret(DATA_DIR / "fernet_key", lambda: Fernet.generate_key().decode())
]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or sorted(
    {_site.hostname or "127.0.0.1", "127.0.0.1", "localhost"}
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS") or [f"{_site.scheme}://{_site.netloc}"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "humas.accounts",
    "humas.ops",
    "humas.channels",
    "humas.publishing",
    "humas.inbox",
    "humas.triage",
    "humas.analytics",
    "humas.crisis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /l/<code> (tracked links) answers here, before sessions and the rest: see its docstring.
    "humas.analytics.middleware.TrackedLinkMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "humas.accounts.middleware.OrganisationMiddleware",
    "humas.accounts.middleware.LanguageMiddleware",
    "humas.accounts.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "humas.urls"
WSGI_APPLICATION = "humas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "humas.accounts.context_processors.organisation",
            ],
        },
    }
]

# Problems found while reading the environment; reported by `humas check` (humas.E001)
# instead of a traceback at start-up.
SETTINGS_ERRORS: list[str] = []

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'humas.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except (ValueError, KeyError) as exc:
    SETTINGS_ERRORS.append(f"DATABASE_URL cannot be used: {exc}")
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'humas.sqlite3'}"
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web server read while the worker writes; the busy timeout turns brief
    # lock contention into a short wait instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "humas.accounts.passwords.IndonesianCommonPasswordValidator"},
    {"NAME": "humas.accounts.passwords.StrengthValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-axes: five wrong passwords for one account from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("HUMAS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env_int("HUMAS_PROXY_COUNT", 0) or None
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "humas"

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = HTTPS
USE_I18N = True
TIME_ZONE = "Asia/Jakarta"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads go to MEDIA_ROOT, or to an S3-compatible bucket when HUMAS_S3_BUCKET is set; either
# way they are served only through publishing:media_file, never from a public address.
STORAGES = storages_from_env(debug=DEBUG)
MEDIA_ROOT = DATA_DIR / "media"
HUMAS_MAX_IMAGE_BYTES = env_int("HUMAS_MAX_IMAGE_BYTES", 20 * 1024 * 1024)
HUMAS_MAX_VIDEO_BYTES = env_int("HUMAS_MAX_VIDEO_BYTES", 512 * 1024 * 1024)

# Cookies are Secure whenever the site is served over https; a local http install keeps them
# plain so that logging in on 127.0.0.1 works.
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("HUMAS_SESSION_HOURS", 12) * 3600
SECURE_SSL_REDIRECT = HTTPS and env_bool("HUMAS_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("HUMAS_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("HUMAS_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env_bool("HUMAS_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "humas <humas@localhost>")

TASKS = {
    "default": {
        "BACKEND": env_str("HUMAS_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# How long a worker may stay silent before /healthz reports it missing, and before the tasks
# it was running are taken back.
HUMAS_WORKER_STALE_SECONDS = env_int("HUMAS_WORKER_STALE_SECONDS", 90)
# Threads per worker process sending due deliveries (each holds one database connection).
HUMAS_DELIVERY_THREADS = env_int("HUMAS_DELIVERY_THREADS", 4)
# Deliveries a thread claims, starts and records together (see humas/publishing/delivery.py).
HUMAS_DELIVERY_BATCH = env_int("HUMAS_DELIVERY_BATCH", 20)
HUMAS_INVITATION_DAYS = env_int("HUMAS_INVITATION_DAYS", 7)
# Feeds on private or loopback addresses may be read (development, tests); never in production,
# where it would let anyone with the right to add a feed probe the internal network.
HUMAS_ALLOW_PRIVATE_FEEDS = env_bool("HUMAS_ALLOW_PRIVATE_FEEDS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("HUMAS_LOG_LEVEL", "INFO")},
    # httpx logs each request URL at INFO, and some APIs (Telegram) carry the token in it.
    # WeasyPrint and fontTools log every step of every PDF report at INFO.
    "loggers": {
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
