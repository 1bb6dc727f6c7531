"""Settings, read from the environment (see README "Configuration").

With no environment at all the project runs on the embedded default: SQLite
and local files under var/ and the django-q2 ORM broker. The sandbox
stand-ins are off unless SAGECONNECT_SANDBOX=true (demo.sh, the tests and the
benchmarks set it).
"""
import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from sageconnect.envkeys import local_secret, private_file

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("SAGECONNECT_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or local_secret(VAR_DIR / "secret_key", "django")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# One switch for a site reached over HTTPS (directly or through a proxy that
# sets X-Forwarded-Proto): redirect plain HTTP, HSTS, cookies only over HTTPS.
HTTPS = env.bool("SAGECONNECT_HTTPS", default=False)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    # Monitoring inside the network asks over plain HTTP: these answer without a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SAGECONNECT_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# How long a login lasts without activity ending it earlier (logging out does).
SESSION_COOKIE_AGE = env.int("SAGECONNECT_SESSION_HOURS", default=12) * 3600
# Behind this many reverse proxies, the client's address is the one the outermost proxy saw
# (X-Forwarded-For); 0 = clients connect directly. Used by login throttling and /metrics.
PROXY_COUNT = env.int("SAGECONNECT_PROXY_COUNT", default=0)

# Fernet keys for credentials at rest, newest first; older keys still decrypt
# so a key can be rotated (`manage.py rotate_secrets`) without downtime.
FERNET_KEYS = env.list("SAGECONNECT_FERNET_KEYS", default=[]) or [
    local_secret(VAR_DIR / "fernet.key", "fernet")
]

# The sandbox stand-ins (Sage company DB, Sage 300 Web API, Focaltec portal)
# are served by this same Django only when asked for: demo.sh, the tests and
# the benchmarks switch them on; a production site never does.
SANDBOX_ENABLED = env.bool("SAGECONNECT_SANDBOX", default=False)
# Where the stand-ins are reached from the sync (the README's web port).
SANDBOX_BASE_URL = env.str("SAGECONNECT_SANDBOX_URL", default="http://127.0.0.1:3030")
# The stand-ins' own records of what they were asked (the portal's request counts, SAT's query log), which
# the tests read. Each is a database write per request; the benchmarks switch them off (bench.servers).
SANDBOX_RECORD_REQUESTS = env.bool("SAGECONNECT_SANDBOX_RECORD_REQUESTS", default=True)
SITE_URL = env.str("SAGECONNECT_SITE_URL", default="http://127.0.0.1:3030")

INSTALLED_APPS = [
    # django.contrib.admin, with the site that lets the "SageConnect admins" group in.
    "sageconnect.apps.SageConnectAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "tenants",
    "cfdi",
    "sync",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware (WhiteNoise's documentation): static files skip the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its refusal page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sageconnect.urls"
WSGI_APPLICATION = "sageconnect.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sageconnect.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'sageconnect.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] and DATABASES["default"]["NAME"] != ":memory:":
        # It holds the tenants' encrypted secrets and the sessions: 0600, like the key files.
        private_file(Path(DATABASES["default"]["NAME"]))
    # The ORM broker, the web and the sync share one SQLite file: wait for the
    # write lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASE_ROUTERS = ["tenants.routers.SageDatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# Login throttling (django-axes), on the site's login and the admin's alike: after
# SAGECONNECT_LOGIN_FAILURES failed logins of one user name from one address, that
# pair is refused for SAGECONNECT_LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("SAGECONNECT_LOGIN_FAILURES", default=10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("SAGECONNECT_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "sageconnect.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "sageconnect.clientip.locked_out"
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = env.str("DJANGO_LANGUAGE_CODE", default="es-mx")
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="America/Mexico_City")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served at the site's root by WhiteNoise: /favicon.ico, which browsers ask for unprompted.
WHITENOISE_ROOT = BASE_DIR / "webroot"
MEDIA_ROOT = Path(env.str("SAGECONNECT_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies and content-hashed names (cached for ever by browsers); `serve`
    # collects them into STATIC_ROOT when the sources changed (sageconnect/staticfiles.py).
    "staticfiles": {"BACKEND": "sageconnect.staticfiles.StaticFilesStorage"},
    # Original CFDI XML, content-addressed; written once, never changed.
    "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "cfdi")},
    },
}

# A CFDI larger than this is refused before any parser sees it.
CFDI_MAX_BYTES = env.int("SAGECONNECT_CFDI_MAX_BYTES", default=5 * 1024 * 1024)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="sageconnect@localhost")

REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="sageconnect"),
    "workers": env.int("Q_WORKERS", default=2),
    # A whole tenant cycle must fit in `timeout`; `retry` must exceed it or
    # django-q2 hands a still-running task to a second worker.
    "timeout": env.int("Q_TIMEOUT", default=1800),
    "retry": env.int("Q_RETRY", default=2100),
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "orm": "default",
}
# `serve` gives the cycle in progress this long to finish when stopping (then its
# workers hand their leases back): by default the longest a cycle may run.
SERVE_STOP_GRACE_SECONDS = env.int("SAGECONNECT_STOP_GRACE_SECONDS", default=Q_CLUSTER["timeout"])
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL

# Logs go to standard error (the service manager keeps and rotates them), or,
# with SAGECONNECT_LOG_FILE, to that file, rotated at SAGECONNECT_LOG_MAX_MB
# with SAGECONNECT_LOG_BACKUPS old copies kept (sageconnect.logfiles).
LOG_FILE = env.str("SAGECONNECT_LOG_FILE", default="")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {process} {levelname} {name}: {message}", "style": "{"}},
    # Outside values cannot forge a line: their control characters are written escaped.
    "filters": {"one_line": {"()": "sageconnect.logsafe.EscapeControlCharacters"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["one_line"]}},
    "root": {"handlers": ["file" if LOG_FILE else "console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes.apps announces itself at every start; its lockouts are warnings and still show.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes.apps": {"level": "WARNING"}},
}
if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "class": "sageconnect.logfiles.SharedRotatingFileHandler", "formatter": "plain", "filename": LOG_FILE,
        "filters": ["one_line"],
        "maxBytes": env.int("SAGECONNECT_LOG_MAX_MB", default=20) * 1024 * 1024,
        "backupCount": env.int("SAGECONNECT_LOG_BACKUPS", default=10),
    }

# /metrics (Prometheus) answers a request carrying this token (Authorization: Bearer …)
# or coming from one of these addresses / networks; with neither set, nobody.
METRICS_TOKEN = env.str("SAGECONNECT_METRICS_TOKEN", default="")
METRICS_ALLOW = env.list("SAGECONNECT_METRICS_ALLOW", default=[])
for _network in METRICS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"SAGECONNECT_METRICS_ALLOW holds {_network!r}, which is not an address or network "
            "(e.g. 10.0.0.5 or 10.0.0.0/24)."
        ) from None

# How long a tenant's lease lasts without renewal before another worker may
# take over. Its holder renews it every third of that; a dead holder on this
# host is taken over at once, one on another host blocks for at most this.
SYNC_LEASE_SECONDS = env.int("SAGECONNECT_LEASE_SECONDS", default=120)

# SAT's CFDI status service (sync.sat) is public and publishes no limit of its
# own: each process asks it at most this often (a burst of this many, then one
# every 60/N seconds); what does not fit waits for the next cycle.
# Portal calls one tenant may have under way at once: an adaptive window (sageconnect.outside_calls)
# starting at OUTSIDE_CALLS_START, halved on 429s, timeouts and slowing answers, widened by one after a
# streak of good ones, never over OUTSIDE_CALLS_PER_TENANT; all tenants of one process together never
# over OUTSIDE_CALLS_PER_PROCESS. The portal publishes no limit (EXTERNAL.md: "Rate limits are undocumented").
OUTSIDE_CALLS_START = env.int("SAGECONNECT_OUTSIDE_CALLS_START", default=8)
OUTSIDE_CALLS_PER_TENANT = env.int("SAGECONNECT_OUTSIDE_CALLS_PER_TENANT", default=16)
OUTSIDE_CALLS_PER_PROCESS = env.int("SAGECONNECT_OUTSIDE_CALLS_PER_PROCESS", default=32)
for _name, _value in (("START", OUTSIDE_CALLS_START), ("PER_TENANT", OUTSIDE_CALLS_PER_TENANT),
                      ("PER_PROCESS", OUTSIDE_CALLS_PER_PROCESS)):
    if _value < 1:
        raise ImproperlyConfigured(
            f"SAGECONNECT_OUTSIDE_CALLS_{_name} must be a whole number of at least 1, not {_value}.")

SAT_CALLS_PER_MINUTE = env.int("SAGECONNECT_SAT_CALLS_PER_MINUTE", default=120)
if SAT_CALLS_PER_MINUTE < 1:
    raise ImproperlyConfigured(
        f"SAGECONNECT_SAT_CALLS_PER_MINUTE must be a whole number of at least 1, not {SAT_CALLS_PER_MINUTE}."
    )

# Bounded retries (sync.engine.outbox): a record whose write failed for a
# passing reason is tried again after SAGECONNECT_RETRY_BACKOFF_SECONDS, then
# twice that, four times that … (at most SAGECONNECT_RETRY_BACKOFF_MAX_SECONDS);
# after SAGECONNECT_MAX_ATTEMPTS failures in a row it waits for a person, as a
# refusal does at once.
SYNC_MAX_ATTEMPTS = env.int("SAGECONNECT_MAX_ATTEMPTS", default=5)
SYNC_RETRY_BACKOFF_SECONDS = env.int("SAGECONNECT_RETRY_BACKOFF_SECONDS", default=300)
SYNC_RETRY_BACKOFF_MAX_SECONDS = env.int("SAGECONNECT_RETRY_BACKOFF_MAX_SECONDS", default=6 * 3600)
for _name, _value, _least in (("SAGECONNECT_MAX_ATTEMPTS", SYNC_MAX_ATTEMPTS, 1),
                              ("SAGECONNECT_RETRY_BACKOFF_SECONDS", SYNC_RETRY_BACKOFF_SECONDS, 0),
                              ("SAGECONNECT_RETRY_BACKOFF_MAX_SECONDS", SYNC_RETRY_BACKOFF_MAX_SECONDS, 0)):
    if _value < _least:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{_name} must be a whole number of at least {_least}, not {_value}.")

# Runs, steps, succeeded outcomes and django-q2 task results older than this
# are pruned daily (sync.housekeeping); what needs a person is kept.
SYNC_HISTORY_DAYS = env.int("SAGECONNECT_HISTORY_DAYS", default=90)
