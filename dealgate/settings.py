"""Django settings for Dealgate, read from the environment with safe local defaults.

Variables: DATABASE_URL, DEALGATE_DATA_DIR, SECRET_KEY, DEALGATE_PRODUCTION, DEALGATE_DEBUG,
DEALGATE_ALLOWED_HOSTS, DEALGATE_CURRENCY, DEALGATE_TASK_BACKEND, DEALGATE_REDIS_URL, EMAIL_URL-style settings.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dealgate.deals.currencies import is_currency_code
from dealgate.env import envbool, envint, envintlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("DEALGATE_DATA_DIR", str(BASE_DIR / "data"))).resolve()

PRODUCTION = envbool("DEALGATE_PRODUCTION", False)
DEBUG = envbool("DEALGATE_DEBUG", not PRODUCTION)

_INSECURE_KEY = "dealgate-local-development-key-not-for-production"
SECRET_KEY = envstr("SECRET_KEY", _INSECURE_KEY)
if PRODUCTION and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "DEALGATE_PRODUCTION=1 needs SECRET_KEY set to a random string of at least 32 characters."
    )

ALLOWED_HOSTS = [h.strip() for h in envstr("DEALGATE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "dealgate.people",
    "dealgate.pipelines",
    "dealgate.deals",
    "dealgate.analytics",
    "dealgate.demo",
    "dealgate.web",
    "dealgate.imports",
    "dealgate.signals",
    "dealgate.api",
    "dealgate.audit",
    "dealgate.automation",
]

MIDDLEWARE = [
    "dealgate.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "dealgate.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dealgate.web.middleware.DateLocale",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dealgate.audit.middleware.AuditSurfaceMiddleware",
    "dealgate.web.middleware.DealgateErrorPage",
    "dealgate.web.middleware.BlankAdminToField",
]

ROOT_URLCONF = "dealgate.urls"
WSGI_APPLICATION = "dealgate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dealgate.csp.nonce",
            ],
        },
    },
]

_database_url = envstr("DATABASE_URL", "")
if _database_url:
    # A connection is kept per server thread for DEALGATE_CONN_MAX_AGE seconds and checked before
    # reuse, so a restarted PostgreSQL costs one failed check, not a failed request. The production
    # server has a fixed number of threads (workers x threads), which bounds the connections.
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=envint("DEALGATE_CONN_MAX_AGE", 60, minimum=0),
                                                  conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL's JIT compiles any query its planner thinks costly; the analytics queries are
        # short scans where compiling took longer (0.5 s) than running. Measured: bench/README.md.
        # DEALGATE_PG_OPTIONS adds session settings (e.g. "-c work_mem=64MB" for big analytics).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "options", " ".join(["-c jit=off", envstr("DEALGATE_PG_OPTIONS", "").strip()]).strip())
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "dealgate.sqlite3",
            "OPTIONS": {
                # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at
                # BEGIN so two concurrent moves serialise instead of failing half-way.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {})["NAME"] = envstr("DEALGATE_TEST_SQLITE", "") or None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Failed sign-ins allowed per username and client address within the window (dealgate.people.login_limits).
DEALGATE_LOGIN_MAX_FAILURES = envint("DEALGATE_LOGIN_MAX_FAILURES", 5, minimum=1)
DEALGATE_LOGIN_WINDOW_SECONDS = envint("DEALGATE_LOGIN_WINDOW_SECONDS", 900, minimum=1)
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en"  # dates day first ("8 Dec"); a US browser gets "Dec 8" (dealgate.web.middleware.DateLocale)
TIME_ZONE = envstr("DEALGATE_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True
USE_THOUSAND_SEPARATOR = False
# One date format on every page (dealgate.words.day, the `day` template filter): "8 Dec" this year,
# "3 Feb 2027" otherwise, from the locale's formats module (dealgate/formats/<language>/formats.py);
# "Dec 8", "Feb 3, 2027" for a browser asking for en-US (decision 033).
FORMAT_MODULE_PATH = ["dealgate.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
# The production server (`dealgate serve`) collects static files into STATIC_ROOT at start with
# hashed names and gzip copies, which whitenoise serves compressed and cached for a year.
# Elsewhere (tests, `serve --dev`, commands) files are served straight from the apps' folders.
STATIC_MANIFEST = envbool("DEALGATE_STATIC_MANIFEST", PRODUCTION)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if STATIC_MANIFEST
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_KEEP_ONLY_HASHED_FILES = True  # pages link the hashed names only; compressing both took twice as long
WHITENOISE_AUTOREFRESH = DEBUG and not STATIC_MANIFEST

# Analytics figures (dealgate.analytics.cache) live here; a page stores about twenty, and the
# figures its threads compute must still be there when the page reads them. By default each process
# has its own copy, checked against the database before use (decision 032), so several processes
# agree without sharing it; DEALGATE_REDIS_URL (e.g. redis://10.0.0.5:6379/0) shares one cache
# between all of them instead, so a figure computed by one is reused by every other.
REDIS_URL = envstr("DEALGATE_REDIS_URL", "").strip()
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"DEALGATE_REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://.")
if REDIS_URL:
    # A Redis that does not answer is a cache miss (dealgate.redis_cache, decision 039); the timeouts
    # bound what a Redis that hangs can cost a request.
    CACHES = {"default": {"BACKEND": "dealgate.redis_cache.FallbackRedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "dealgate",
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": 5000}}}
# How many analytics figures a page computes at once, each on its own connection
# (dealgate.analytics.together); 1 computes them one after the other.
DEALGATE_ANALYTICS_THREADS = envint("DEALGATE_ANALYTICS_THREADS", 8, minimum=1)
# Requests `dealgate serve` runs at once (each on one database connection); the rest wait their turn.
DEALGATE_SERVE_REQUESTS = envint("DEALGATE_SERVE_REQUESTS", 16, minimum=1)
# The company currency: totals in other currencies convert into it with the rate table.
DEALGATE_CURRENCY = envstr("DEALGATE_CURRENCY", "EUR").upper()
if not is_currency_code(DEALGATE_CURRENCY):
    raise ImproperlyConfigured(f"DEALGATE_CURRENCY={DEALGATE_CURRENCY!r} is not an ISO 4217 currency code (e.g. EUR).")

# The largest request body read into memory (JSON to the API, a web form's fields), in bytes;
# larger answers 413 on the API and 400 on a web page. Uploaded files do not count: a CSV import
# streams to disk and has its own limit (dealgate.imports.views.MAX_UPLOAD_BYTES, 200 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DEALGATE_MAX_REQUEST_BYTES", 2_621_440, minimum=65_536)

# Signal thresholds (dealgate.signals; docs/signals.md explains each). Whole numbers; ratios are percent.
DEALGATE_SIGNALS = {
    "min_orders": envint("DEALGATE_SIGNAL_MIN_ORDERS", 4, minimum=2),  # order days before an account has a cadence
    "recent_gaps": envint("DEALGATE_SIGNAL_RECENT_GAPS", 8, minimum=2),  # the typical gap is the median of these
    "missed_factor_pct": envint("DEALGATE_SIGNAL_MISSED_FACTOR_PCT", 150, minimum=100),  # x typical gap = missed
    "recent_days": envint("DEALGATE_SIGNAL_RECENT_DAYS", 90, minimum=7),  # "now" in frequency/size decline
    "baseline_days": envint("DEALGATE_SIGNAL_BASELINE_DAYS", 270, minimum=30),  # the trailing baseline before it
    "frequency_drop_pct": envint("DEALGATE_SIGNAL_FREQUENCY_DROP_PCT", 40, minimum=1),
    "size_drop_pct": envint("DEALGATE_SIGNAL_SIZE_DROP_PCT", 30, minimum=1),
    "line_min_orders": envint("DEALGATE_SIGNAL_LINE_MIN_ORDERS", 3, minimum=2),
    "line_missed_cycles": envint("DEALGATE_SIGNAL_LINE_MISSED_CYCLES", 3, minimum=1),
    "high_margin_pct": envint("DEALGATE_SIGNAL_HIGH_MARGIN_PCT", 35, minimum=1),
    "cross_sell_share_pct": envint("DEALGATE_SIGNAL_CROSS_SELL_SHARE_PCT", 60, minimum=1),  # of similar accounts
    "cross_sell_min_peers": envint("DEALGATE_SIGNAL_CROSS_SELL_MIN_PEERS", 5, minimum=2),
}

_task_backends = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "rq": "django_tasks_rq.RQBackend",  # the queue in Redis, run by RQ's worker (`dealgate worker`)
}
TASK_BACKEND = envstr("DEALGATE_TASK_BACKEND", "database")
if TASK_BACKEND not in _task_backends:
    raise ImproperlyConfigured(f"DEALGATE_TASK_BACKEND={TASK_BACKEND!r}; choose one of {', '.join(_task_backends)}.")
TASKS = {"default": {"BACKEND": _task_backends[TASK_BACKEND]}}
if TASK_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("DEALGATE_TASK_BACKEND=rq keeps the queue in Redis: set DEALGATE_REDIS_URL "
                                   "(e.g. redis://127.0.0.1:6379/0).")
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS["default"]["QUEUES"] = ["default"]
    # A job whose worker was killed is moved to RQ's failed jobs after this timeout (seconds).
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}}
# Webhook actions (docs/automation.md#webhooks): seconds to wait before each retry of a failed POST
# (the delivery is given up after the last), and the POST's timeout. DEALGATE_BASE_URL (e.g.
# https://crm.example.com) makes the links in emails and webhook payloads absolute; empty: webhooks
# send paths, emails link to the development server or, in production, carry no link (the check warns).
DEALGATE_WEBHOOK_RETRY_DELAYS = envintlist("DEALGATE_WEBHOOK_RETRY_DELAYS", [60, 300, 1800, 7200, 21600], minimum=0)
DEALGATE_WEBHOOK_TIMEOUT = envint("DEALGATE_WEBHOOK_TIMEOUT", 10, minimum=1)
DEALGATE_BASE_URL = envstr("DEALGATE_BASE_URL", "").rstrip("/")
if DEALGATE_BASE_URL and not DEALGATE_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"DEALGATE_BASE_URL={DEALGATE_BASE_URL!r} must start with http:// or https://.")
# /healthz answers 503 when the worker's heartbeat job has waited longer than this (seconds).
DEALGATE_WORKER_MAX_LAG = envint("DEALGATE_WORKER_MAX_LAG", 60, minimum=1)

# Notification emails: printed to the console locally; set DEALGATE_EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend and the EMAIL_* variables for a real mail server.
EMAIL_BACKEND = envstr("DEALGATE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive; set one of them.")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Dealgate <dealgate@localhost>")

# Headers on every response (docs/security.md); the Content-Security-Policy comes from dealgate.csp.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

if PRODUCTION:
    SESSION_COOKIE_SECURE = envbool("DEALGATE_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Production is served over HTTPS (TLS ends at the reverse proxy, which sends X-Forwarded-Proto;
    # gunicorn trusts it from FORWARDED_ALLOW_IPS, 127.0.0.1 by default). /healthz stays reachable
    # over plain HTTP for load balancers. docs/operations.md explains each setting.
    SECURE_SSL_REDIRECT = envbool("DEALGATE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("DEALGATE_HSTS_SECONDS", 31_536_000, minimum=0)
    # Dealgate usually lives on one host of a company's domain (crm.example.com): whether every other
    # host of that domain is HTTPS-only is not Dealgate's to promise, so these are the operator's choice.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DEALGATE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = envbool("DEALGATE_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = [check for check, chosen in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
                                                          ("security.W021", SECURE_HSTS_PRELOAD)) if not chosen]

# Every line carries the request id (dealgate.request_ids); DEALGATE_LOG_FORMAT=json writes one
# JSON object per line for a log collector, "text" (default) a readable line.
_log_format = envstr("DEALGATE_LOG_FORMAT", "text")
if _log_format not in ("text", "json"):
    raise ImproperlyConfigured(f"DEALGATE_LOG_FORMAT={_log_format!r}; choose text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "dealgate.request_ids.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "dealgate.request_ids.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": _log_format}},
    "root": {"handlers": ["console"], "level": envstr("DEALGATE_LOG_LEVEL", "WARNING")},
}
