"""Django settings, read strictly from the environment (see .env.example)."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from reviewapp.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105 - DEBUG only

# Keyed hashes of user ids and of record keys must not be guessable from outside.
PII_HMAC_KEY = env_str("PII_HMAC_KEY", default=SECRET_KEY)

# Endpoint API keys are stored encrypted with a key derived from this secret, kept apart from
# SECRET_KEY so that rotating one never exposes or invalidates the other.
ENDPOINT_KEYS_SECRET = env_str("ENDPOINT_KEYS_SECRET")
if not ENDPOINT_KEYS_SECRET and DEBUG:
    ENDPOINT_KEYS_SECRET = "insecure-development-endpoint-keys"  # noqa: S105 - DEBUG only
# Hosts replay endpoints may point at; empty allows any host (http and https only).
REPLAY_ALLOWED_HOSTS = env_list("REPLAY_ALLOWED_HOSTS", [])
# An OpenAI-compatible gateway (the production filter in front of the models). When set, the
# one-shot gate replays both models through it, so a refusal the gateway adds counts.
REPLAY_GATEWAY_URL = env_str("REPLAY_GATEWAY_URL", "")
# Where this app's own workers reach its web server; the demo model's base URL is
# SITE_URL/demo-model/v1 (`make run` sets it from HOST and PORT).
SITE_URL = env_url("SITE_URL", ("http", "https")) or "http://127.0.0.1:8000"
# The built-in demo model (/demo-model/v1), a deterministic toy to try replays and the gate
# without a real endpoint; on with DEBUG unless turned off, a 404 when off.
DEMO_MODEL_ENABLED = env_bool("DEMO_MODEL_ENABLED", default=DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
DATA_DIR = Path(env_str("DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditcore",
    "reviewapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "reviewapp.middleware.no_store_for_users",
    "reviewapp.middleware.admin_for_staff_only",
    "reviewapp.middleware.mark_control_characters",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "reviewapp.urls"
WSGI_APPLICATION = "reviewapp.wsgi.application"

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
                "django.template.context_processors.csp",
                "reviewapp.context_processors.role_flags",
            ],
            # |reveal_controls (bidi isolation and visible control characters) everywhere.
            "builtins": ["reviewapp.templatetags.textsafety"],
        },
    },
]

# --- Database: SQLite in the project folder unless DATABASE_URL is given.
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # The web server and the worker write at the same time: WAL and a
            # generous busy timeout keep SQLite from answering "database is locked".
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = DATA_DIR / "uploads"

# --- Security. Prompts and responses are hostile text: no inline script anywhere.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("API_MAX_BODY_MB", 64, minimum=1) * 1024 * 1024
INGEST_MAX_UPLOAD_MB = env_int("INGEST_MAX_UPLOAD_MB", 2048, minimum=1)
# Records per ingest chunk: the unit of parallel work and of the resume checkpoint. Larger
# chunks mean fewer stratum upserts and commits per record; bench/README.md has the figures
# that chose 10,000.
INGEST_CHUNK_RECORDS = env_int("INGEST_CHUNK_RECORDS", 10_000, minimum=1)
# Policy changes are proposed by one safety lead and approved by another before they publish;
# a small team with one lead turns this on to publish alone.
POLICY_SINGLE_LEAD_PUBLISH = env_bool("POLICY_SINGLE_LEAD_PUBLISH", default=False)

# --- Response classifier: an OpenAI-compatible judge model for the fast tier's uncertain band.
DETECTION_JUDGE_URL = env_url("DETECTION_JUDGE_URL", ("http", "https"))
DETECTION_JUDGE_MODEL = env_str("DETECTION_JUDGE_MODEL", default="judge")
DETECTION_JUDGE_API_KEY = env_str("DETECTION_JUDGE_API_KEY")
DETECTION_JUDGE_TIMEOUT = env_float("DETECTION_JUDGE_TIMEOUT", 20.0, minimum=0.1)
DETECTION_JUDGE_CACHE_SECONDS = env_int("DETECTION_JUDGE_CACHE_SECONDS", 30 * 86400, minimum=1)

# --- Celery: Redis when REDIS_URL is set, otherwise a broker needing no server.
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A task a killed worker had taken is handed out again after this many seconds; tasks are
    # idempotent, so a redelivery of one still running only repeats work, never data.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=1)
    }
else:
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'results'}"
    # The filesystem transport and backend expect their folders to exist.
    for _folder in ("broker/queue", "broker/control", "results"):
        (DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
# The cache holds the API-token failure counts (DRF throttles), so it must be one that every web
# process shares: Redis when configured, otherwise a table in the database (created by migrate).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "reviewapp_cache",
        }
    }
# Failed logins: per username (however it is spelled) from one address, and per address across
# usernames; both lock for LOGIN_THROTTLE_LOCK_SECONDS once reached within the window.
LOGIN_THROTTLE_FAILURES = env_int("LOGIN_THROTTLE_FAILURES", 5, minimum=1)
LOGIN_THROTTLE_ADDRESS_FAILURES = env_int("LOGIN_THROTTLE_ADDRESS_FAILURES", 10, minimum=1)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900, minimum=1)
LOGIN_THROTTLE_LOCK_SECONDS = env_int("LOGIN_THROTTLE_LOCK_SECONDS", 900, minimum=0)

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery beat (`make run` and the compose `beat` service start it): the scheduled check opens
# each round template's round over last week (once per week) and looks for alerts.
ROUNDS_SCHEDULE_HOUR = env_int("ROUNDS_SCHEDULE_HOUR", 6, minimum=0)
if ROUNDS_SCHEDULE_HOUR > 23:
    raise ImproperlyConfigured("ROUNDS_SCHEDULE_HOUR must be an hour from 0 to 23")
CELERY_BEAT_SCHEDULE = {
    "rounds-open-scheduled": {
        "task": "auditcore.rounds_open_scheduled",
        "schedule": crontab(minute=0, hour=ROUNDS_SCHEDULE_HOUR),
    },
    "alerts-check": {
        "task": "auditcore.alerts_check_scheduled",
        "schedule": crontab(minute=30, hour=ROUNDS_SCHEDULE_HOUR),
    },
    # Export files past EXPORT_TTL_HOURS are deleted; until then links to them already refuse.
    "exports-expire": {
        "task": "auditcore.export_jobs_expire_scheduled",
        "schedule": crontab(minute="*/15"),
    },
    # Ingest queues the search indexing when a job finishes; this sweep catches the rest (API
    # pushes, a lost task). Rows not yet indexed are still found, only more slowly.
    "interactions-search-index": {
        "task": "auditcore.interactions_search_index",
        "schedule": crontab(minute="*/5"),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Alerts (a rise in false refusals, a new disparity or inconsistency) are POSTed here as
# Slack-compatible JSON {"text": ...}; empty: shown on the dashboard only.
ALERT_WEBHOOK_URL = env_url("ALERT_WEBHOOK_URL", ("http", "https"))
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
HEALTH_TIMEOUT_SECONDS = env_float("HEALTH_TIMEOUT_SECONDS", 3.0, minimum=0.1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "reviewapp.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "reviewapp.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "ingest_push": env_str("API_INGEST_RATE", default="120/min"),
        # Round previews, draws and exports: each scans or writes a lot.
        "api_expensive": env_str("API_EXPENSIVE_RATE", default="30/min"),
        # Failed token authentications per client address.
        "api_auth_failures": env_str("API_AUTH_FAILURE_RATE", default="20/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "reviewapp.api.schema.ApiAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Refusal Audit API",
    "DESCRIPTION": "Ingest, blind review, estimates and the release gate.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "reviewapp.api.schema.natural_path_ids",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI's assets come from drf-spectacular-sidecar (static files), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Exports of adjudicated labels: files are deleted after EXPORT_TTL_HOURS; a download link
# is valid for EXPORT_LINK_MINUTES after the page showed it.
EXPORT_TTL_HOURS = env_int("EXPORT_TTL_HOURS", 24, minimum=1)
EXPORT_LINK_MINUTES = env_int("EXPORT_LINK_MINUTES", 60, minimum=1)
# Rows per export batch (on PostgreSQL: per COPY slice, each a Parquet row group), and the
# lease a running export renews with every batch: a running export silent for longer has lost
# its worker, and its redelivered task takes it over.
EXPORT_BATCH_ROWS = env_int("EXPORT_BATCH_ROWS", 2000, minimum=1)
EXPORT_COPY_ROWS = env_int("EXPORT_COPY_ROWS", 20000, minimum=1)
EXPORT_LEASE_SECONDS = env_int("EXPORT_LEASE_SECONDS", 120, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", default="INFO")},
}
