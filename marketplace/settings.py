"""Settings, read from environment variables with safe production defaults.

`make run` sets DEBUG=1; everything else defaults to the embedded set-up: SQLite,
Celery tasks run in-process when no broker is configured, and the fake Lightning node.
"""

import ipaddress
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules or sys.argv[1:2] == ["test"]


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", PUBLIC_BASE_URL)

# Behind TLS (a public https base): the proxy in front terminates TLS and says so in
# X-Forwarded-Proto; plain http is redirected (but for the load balancer's health probe),
# browsers are told to stay on https, and cookies are only sent over https.
BEHIND_TLS = PUBLIC_BASE_URL.startswith("https://")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS else None
SECURE_SSL_REDIRECT = BEHIND_TLS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if BEHIND_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = BEHIND_TLS
SECURE_HSTS_PRELOAD = BEHIND_TLS
SESSION_COOKIE_SECURE = BEHIND_TLS
CSRF_COOKIE_SECURE = BEHIND_TLS
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

# Security headers on every response (SecurityMiddleware, XFrameOptionsMiddleware and
# core.middleware.ContentSecurityPolicyMiddleware). Pages load scripts, styles and images
# from this site only; QR codes are inline SVG elements, which CSP does not restrict.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Django's admin and Swagger UI set inline styles (scripts stay 'self'-only).
CONTENT_SECURITY_POLICY_PATHS = {
    "/admin/": CONTENT_SECURITY_POLICY.replace(
        "default-src 'self';", "default-src 'self'; style-src 'self' 'unsafe-inline';"
    ),
    "/api/docs/": CONTENT_SECURITY_POLICY.replace(
        "default-src 'self';", "default-src 'self'; style-src 'self' 'unsafe-inline';"
    ),
}
# The endpoints a Lightning wallet calls: their errors are LNURL ERROR bodies (core.errors).
LNURL_WALLET_PATHS = ("/api/v1/auth/lnurl/callback/", "/api/v1/lnurl/withdraw/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # runserver leaves static files to WhiteNoise, as gunicorn
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "labeling",
    "payouts",
    "rewardmodel",
    "serving",
    "marketplace",  # last: its demo loader imports every app
]

MIDDLEWARE = [
    # First: it sees the status every other layer settled on.
    "marketplace.metrics.RequestCountMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "core.middleware.HostileInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many labelers at once on `make run`: WAL lets reads go on while one transaction writes;
    # IMMEDIATE takes the write lock at BEGIN, where writers queue for up to `timeout`
    # seconds. A deferred BEGIN reads first and fails at once with "database is locked"
    # when it later tries to write after another writer (SQLite does not wait there: it
    # could deadlock). With WAL, synchronous=NORMAL keeps every commit through a crash of the
    # process; a power cut may lose the last few, never corrupt the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound on the server, and statements run this many times on a connection
    # prepared: PostgreSQL then stops re-planning the few statements of every task request,
    # which cost more to plan than to run. 0 turns preparing off (PgBouncer before 1.21
    # in transaction mode cannot keep prepared statements).
    threshold = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": threshold or None,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# `collectstatic` writes content-hashed names (cached for a year) with gzip and brotli copies,
# which WhiteNoise sends to browsers that accept them. The test suite reads the source folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# With DEBUG, static files are read from the source folders (edits show at once, uncompressed);
# STATIC_COLLECTED=1 (`make run`) serves the collected, compressed files, as in production.
WHITENOISE_USE_FINDERS = DEBUG and not env_bool("STATIC_COLLECTED")

# Uploads: batch files are parsed in memory, so they are capped.
BATCH_UPLOAD_MAX_BYTES = int(os.environ.get("BATCH_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
BATCH_MAX_ITEMS = int(os.environ.get("BATCH_MAX_ITEMS", "50000"))
# Money bounds (msat): what one batch may cost, one deposit bring in, one withdrawal take out.
BATCH_MAX_COST_MSAT = int(os.environ.get("BATCH_MAX_COST_MSAT", str(100_000_000_000)))  # 1 BTC
DEPOSIT_MAX_MSAT = int(os.environ.get("DEPOSIT_MAX_MSAT", str(100_000_000_000)))  # 1 BTC
WITHDRAWAL_MAX_MSAT = int(os.environ.get("WITHDRAWAL_MAX_MSAT", str(10_000_000_000)))  # 0.1 BTC
DATA_UPLOAD_MAX_MEMORY_SIZE = BATCH_UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = BATCH_UPLOAD_MAX_BYTES + 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",  # refuses deep nesting, NULs, surrogates, huge numbers
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # `format` is a query parameter of the export endpoint, not a renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RLHF marketplace API",
    "DESCRIPTION": "Rating tasks on AI output, paid over Lightning. Money is integer msat.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.document_refused_input",
    ],
    # Several responses have a `status` (or a task type) with its own choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "TaskTypeEnum": "labeling.models.TaskType",
        "RatingStatusEnum": "labeling.models.Rating.Status",
        "LnurlStatusEnum": ["OK", "ERROR"],
        "LoginPendingStatusEnum": ["pending"],
        "LoginDoneStatusEnum": ["ok"],
        "TrainingRunStatusEnum": "rewardmodel.models.TrainingRun.Status",
        "ModelKindEnum": "serving.models.ServedModel.Kind",
        "RunKindEnum": ["reward", "policy"],
    },
}

# Labeling
ASSIGNMENT_LEASE_SECONDS = int(os.environ.get("ASSIGNMENT_LEASE_SECONDS", "600"))
REPORTS_TO_BLOCK_ITEM = int(os.environ.get("REPORTS_TO_BLOCK_ITEM", "2"))
LNURL_AUTH_TTL_SECONDS = int(os.environ.get("LNURL_AUTH_TTL_SECONDS", "300"))
# Expired login challenges are deleted by `payouts.purge_login_challenges` after this long.
LNURL_AUTH_PURGE_AFTER_SECONDS = int(os.environ.get("LNURL_AUTH_PURGE_AFTER_SECONDS", "86400"))
# API tokens stop working this long after they were issued (0: never); logout revokes them.
API_TOKEN_TTL_SECONDS = int(os.environ.get("API_TOKEN_TTL_SECONDS", str(30 * 24 * 3600)))
# Per client address, in DRF's syntax ("30/min"); empty turns a limit off (benchmarks).
# LOGIN: login challenges and the admin login; LNURL: wallet callbacks (auth and withdraw).
RATE_LIMIT_LOGIN = os.environ.get("RATE_LIMIT_LOGIN", "30/min").strip()
RATE_LIMIT_LNURL = os.environ.get("RATE_LIMIT_LNURL", "120/min").strip()

# Rate limits count in the cache, so several processes need a shared one (Redis).
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL", "")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Lightning
LIGHTNING_BACKEND = os.environ.get("LIGHTNING_BACKEND", "fake")
LIGHTNING_NETWORK = os.environ.get("LIGHTNING_NETWORK", "regtest")
if LIGHTNING_BACKEND not in {"fake", "lnd", "cln", "lnbits"}:
    raise ImproperlyConfigured(f"Unknown LIGHTNING_BACKEND {LIGHTNING_BACKEND!r}")
if LIGHTNING_NETWORK not in {"bitcoin", "testnet", "signet", "regtest"}:
    raise ImproperlyConfigured(f"Unknown LIGHTNING_NETWORK {LIGHTNING_NETWORK!r}")
# Lightning Address services are fetched only from public https hosts; on lifts that check
# (and allows http) for local test services only. Off in every mode, DEBUG included.
LIGHTNING_ADDRESS_ALLOW_PRIVATE = env_bool("LIGHTNING_ADDRESS_ALLOW_PRIVATE")
# Payouts (all msat / seconds). Routing fees are the platform's cost
# (see payouts/services/withdrawals.py).
PAYOUT_WITHDRAWAL_TTL_SECONDS = int(os.environ.get("PAYOUT_WITHDRAWAL_TTL_SECONDS", "900"))
PAYOUT_FEE_LIMIT_BASE_MSAT = int(os.environ.get("PAYOUT_FEE_LIMIT_BASE_MSAT", "10000"))
PAYOUT_FEE_LIMIT_PPM = int(os.environ.get("PAYOUT_FEE_LIMIT_PPM", "10000"))
PAYOUT_REQUEUE_AFTER_SECONDS = int(os.environ.get("PAYOUT_REQUEUE_AFTER_SECONDS", "60"))
PAYOUT_RESEND_AFTER_SECONDS = int(os.environ.get("PAYOUT_RESEND_AFTER_SECONDS", "300"))
PAYOUT_NODE_TIMEOUT_SECONDS = float(os.environ.get("PAYOUT_NODE_TIMEOUT_SECONDS", "30"))
DEPOSIT_INVOICE_EXPIRY_SECONDS = int(os.environ.get("DEPOSIT_INVOICE_EXPIRY_SECONDS", "3600"))
FAKE_NODE_FEE_PPM = int(os.environ.get("FAKE_NODE_FEE_PPM", "1000"))
LND_REST_URL = os.environ.get("LND_REST_URL", "")
LND_MACAROON_HEX = os.environ.get("LND_MACAROON_HEX", "")
LND_TLS_CERT = os.environ.get("LND_TLS_CERT", "")
CLN_REST_URL = os.environ.get("CLN_REST_URL", "")
CLN_RUNE = os.environ.get("CLN_RUNE", "")
CLN_TLS_CERT = os.environ.get("CLN_TLS_CERT", "")
LNBITS_URL = os.environ.get("LNBITS_URL", "")
LNBITS_ADMIN_KEY = os.environ.get("LNBITS_ADMIN_KEY", "")
# Local file holding the key of the `manage.py wallet` command-line test wallet.
WALLET_KEY_FILE = Path(os.environ.get("WALLET_KEY_FILE", BASE_DIR / ".wallet-key"))
# Training runs (rewardmodel): each run's data, model, curves and metrics under <dir>/<run id>/.
TRAINING_RUNS_DIR = Path(os.environ.get("TRAINING_RUNS_DIR", BASE_DIR / "runs"))
# Base models runs may start from, as `name=folder` pairs (folders on the training machine),
# besides `tiny`: e.g. `smollm2-135m=/models/smollm2` after `python -m rewardmodel.pipeline
# import-gguf --out /models/smollm2`. Requesters name a model; they never give a path.
TRAINING_BASE_MODELS = dict(
    pair.split("=", 1) for pair in env_list("TRAINING_BASE_MODELS", "") if "=" in pair
)
# A run still queued this long after its job was published gets its job published again.
TRAINING_REQUEUE_SECONDS = int(os.environ.get("TRAINING_REQUEUE_SECONDS", "3600"))
# A running training run with no progress for this long has lost its worker.
TRAINING_STALL_SECONDS = int(os.environ.get("TRAINING_STALL_SECONDS", "1800"))

# Serving (pay-per-call models under /v1). Every charge sends this share (parts per million)
# to the platform's fees account and the rest to the model's owner.
SERVING_PLATFORM_FEE_PPM = int(os.environ.get("SERVING_PLATFORM_FEE_PPM", "50000"))
# A chat call's messages may hold at most this many UTF-8 bytes (400 before any engine work);
# the worst case held for a call counts one prompt token per byte.
SERVING_MAX_PROMPT_BYTES = int(os.environ.get("SERVING_MAX_PROMPT_BYTES", "32768"))
SERVING_MAX_N = int(os.environ.get("SERVING_MAX_N", "8"))
SERVING_MAX_RESPONSES = int(os.environ.get("SERVING_MAX_RESPONSES", "64"))
SERVING_DEFAULT_MAX_TOKENS = int(os.environ.get("SERVING_DEFAULT_MAX_TOKENS", "512"))
# L402: the credit a challenge's invoice buys, the most `?credit_msat=` may ask for, how long
# a token lives and how long its invoice may be paid.
SERVING_L402_CREDIT_MSAT = int(os.environ.get("SERVING_L402_CREDIT_MSAT", "100000"))
SERVING_L402_MAX_CREDIT_MSAT = int(os.environ.get("SERVING_L402_MAX_CREDIT_MSAT", "100000000"))
SERVING_L402_TTL_SECONDS = int(os.environ.get("SERVING_L402_TTL_SECONDS", "2592000"))
SERVING_L402_INVOICE_EXPIRY_SECONDS = int(
    os.environ.get("SERVING_L402_INVOICE_EXPIRY_SECONDS", "3600")
)
# Engines: seconds to wait for each answer or streamed piece; the key sent to upstreams
# (vLLM's --api-key); the first port `serve_models` gives its engine processes.
SERVING_ENGINE_TIMEOUT_SECONDS = float(os.environ.get("SERVING_ENGINE_TIMEOUT_SECONDS", "60"))
SERVING_ENGINE_API_KEY = os.environ.get("SERVING_ENGINE_API_KEY", "")
SERVING_ENGINE_PORT = int(os.environ.get("SERVING_ENGINE_PORT", "8100"))
# 402 challenges per client address (each mints a token and an invoice); empty: no limit.
SERVING_RATE_LIMIT_CHALLENGES = os.environ.get("SERVING_RATE_LIMIT_CHALLENGES", "120/min")
# A call still holding its worst case this long (its web process died) is released unpaid.
SERVING_STALE_CALL_SECONDS = int(os.environ.get("SERVING_STALE_CALL_SECONDS", "3600"))

# Celery: no broker configured means tasks run eagerly, in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # Pushes call users' Lightning Address services, which may be slow: they must not
    # take the payouts workers away from paying withdrawals.
    "payouts.push_lightning_addresses": {"queue": "payouts_push"},
    "payouts.*": {"queue": "payouts"},
    # Housekeeping must not wait behind (or for) the training workers.
    "rewardmodel.fail_stalled_runs": {"queue": "default"},
    "rewardmodel.requeue_waiting_runs": {"queue": "default"},
    "rewardmodel.*": {"queue": "training"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Database connections outlive jobs (marketplace/celery.py closes them by CONN_MAX_AGE);
# Celery's fix-up would otherwise reconnect around every job.
CELERY_DB_REUSE_MAX = 2**31
CELERY_BEAT_SCHEDULE = {
    "labeling.expire_assignments": {"task": "labeling.expire_assignments", "schedule": 60.0},
    # Re-aggregate batches that got ratings in the last 10 minutes (peer agreement → trust).
    "labeling.aggregate_recent_batches": {
        "task": "labeling.aggregate_recent_batches",
        "schedule": 300.0,
    },
    "labeling.approve_overdue": {"task": "labeling.approve_overdue", "schedule": 600.0},
    "labeling.complete_finished_batches": {
        "task": "labeling.complete_finished_batches",
        "schedule": 300.0,
    },
    "payouts.reconcile": {"task": "payouts.reconcile", "schedule": 30.0},
    "rewardmodel.fail_stalled_runs": {"task": "rewardmodel.fail_stalled_runs", "schedule": 300.0},
    "rewardmodel.requeue_waiting_runs": {
        "task": "rewardmodel.requeue_waiting_runs",
        "schedule": 600.0,
    },
    "payouts.push_lightning_addresses": {
        "task": "payouts.push_lightning_addresses",
        "schedule": 60.0,
        # A run still waiting when the next is due is dropped rather than piling up.
        "options": {"expires": 60.0},
    },
    "payouts.purge_login_challenges": {
        "task": "payouts.purge_login_challenges",
        "schedule": 3600.0,
    },
    "serving.release_stale_calls": {"task": "serving.release_stale_calls", "schedule": 600.0},
}

# GET /metrics (Prometheus): direct connections from these addresses or networks, or any
# client with `Authorization: Bearer <METRICS_TOKEN>` (the way in from behind a proxy).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
for network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from exc

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "marketplace.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
