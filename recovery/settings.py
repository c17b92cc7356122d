"""Settings for Recovery, read from environment variables with safe development defaults.

Without any environment the app runs on two SQLite files, the database and the broker, so a bare machine
can run web, worker and beat. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import datetime
import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECOVERY_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # The development key below is public: sessions, password reset links and CSRF tokens signed with it
        # could be forged by anyone, so a production process refuses to start rather than use it.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, set SECRET_KEY to 50 or more random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'); for development, set DEBUG=1."
        )
    # Development only: a fixed key keeps sessions valid across restarts of `make run`.
    SECRET_KEY = "dev-insecure-recovery-key-change-me-in-production-0123456789"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "recovery.apps.OperatorsAdminConfig",  # the admin, for operators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # The customer search's trigram indexes (OpClass in an index); harmless on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "axes",
    # Sign-in pages, two-factor (TOTP and recovery codes) and each organization's single sign-on.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "incidents",
    "followups",
    "helpdesk",
    "outreach",
    "insights",
    "problems",
    "organization_settings",
    "signing_in",
    "attachments",
]

MIDDLEWARE = [
    "recovery.request_logging.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "recovery.middleware.refuse_null_characters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language), or English; recovery.middleware.person_language then
    # puts the signed-in person's own choice over it. After sessions, before common (Django's order).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "recovery.middleware.person_language",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a refused sign-in into the locked-out page (recovery.sign_in)
    "allauth.account.middleware.AccountMiddleware",
    "signing_in.two_factor.require_two_factor",
    "recovery.middleware.security_headers",
]

ROOT_URLCONF = "recovery.urls"
WSGI_APPLICATION = "recovery.wsgi.application"
ASGI_APPLICATION = "recovery.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGE_CODE for <html lang>
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "followups.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # Fail fast when PostgreSQL is away (restarting, unreachable) instead of hanging a web worker;
    # with health checks on, the next request reconnects by itself once it is back.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", int(os.environ.get("DB_CONNECT_TIMEOUT", "3")))
    # No JIT compilation: the app's reads are short (the managers' pages read a rollup), and compiling
    # one costs more than it saves (80 ms on the scorecard's value-kept read at a million incidents).
    # DB_JIT=on gives it back, e.g. for a reporting replica.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=" + ("on" if os.environ.get("DB_JIT") == "on" else "off"))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and beat share one SQLite file in `make run`: wait for the write lock
    # instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Writers take the lock when their transaction begins, so they wait their turn (up to the
    # timeout) instead of failing with "database is locked" when a read turns into a write.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "incidents.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Signing in: throttling (django-axes, counted in the database) and password reset -----------
# Every sign-in that calls authenticate() (/login/, where the admin's operators sign in too) goes through
# AxesStandaloneBackend first, which refuses while the name is locked from this address; two-factor codes,
# single sign-on answers and reset links are counted alike. See recovery/sign_in.py.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "recovery.sign_in.SignInAttempts"
# A name tried from one address is locked after five failures: a stranger typing a colleague's name (or
# a made-up one) from elsewhere locks nobody out here, and one from here locks out only that name here.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(os.environ.get("SIGN_IN_FAILURE_LIMIT", "5"))
# Failures from one address over every name (spraying), within the cool-off; see SignInAttempts.
SIGN_IN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("SIGN_IN_ADDRESS_FAILURE_LIMIT", "30"))
SIGN_IN_KNOWN_ADDRESS_DAYS = 30
# Counted from the last failure; tries while locked do not extend it. Each failure after a lockout
# doubles the next one, up to SIGN_IN_LONGEST_LOCKOUT_HOURS (recovery.sign_in.lockout_for).
SIGN_IN_COOL_OFF_MINUTES = int(os.environ.get("SIGN_IN_COOL_OFF_MINUTES", "15"))
SIGN_IN_LONGEST_LOCKOUT_HOURS = 24
AXES_COOLOFF_TIME = "recovery.sign_in.cool_off"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A person's own sign-in clears their own name's failures from that address, and nothing else.
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "recovery.sign_in.client_username"
AXES_CLIENT_IP_CALLABLE = "recovery.sign_in.client_address"
AXES_LOCKOUT_CALLABLE = "recovery.sign_in.locked_out"
AXES_VERBOSE = False
# How many proxies we run in front of the app (load balancer, ingress) that append the client's address
# to X-Forwarded-For. 0: the client is REMOTE_ADDR and the header is ignored, as a client can set it freely.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Password reset requests: at most this many from one address, and emails to one address, per hour.
PASSWORD_RESET_REQUESTS_PER_HOUR = int(os.environ.get("PASSWORD_RESET_REQUESTS_PER_HOUR", "5"))

# --- Signing in: the pages, two-factor and single sign-on (django-allauth; see signing_in/) ----------
# Throttling stays with axes above: allauth's own login limits are off, so one counter decides.
ACCOUNT_ADAPTER = "signing_in.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "signing_in.adapters.SingleSignOnAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_RATE_LIMITS = False
ACCOUNT_SESSION_REMEMBER = True  # as before: the session lasts SESSION_COOKIE_AGE
ACCOUNT_LOGOUT_REDIRECT_URL = "login"
# People join an organization by invitation (Settings), never by signing up or through an identity
# provider: single sign-on only signs in someone who is already on the staff (signing_in.adapters).
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {"organization_sso": {"OAUTH_PKCE_ENABLED": True}}
# Identity providers are reached over HTTPS; development and the tests' local provider use plain HTTP.
SINGLE_SIGN_ON_ALLOW_HTTP = env_bool("SINGLE_SIGN_ON_ALLOW_HTTP", DEBUG)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Recovery"
# Changing two-factor asks for the password again (except for people who have none here:
# signing_in.adapters.AccountAdapter); turning it off, where it is required, is refused (TwoFactorAdapter).
MFA_REAUTHENTICATION_REQUIRED = True
MFA_FORMS = {"authenticate": "signing_in.forms.TwoFactorCodeForm"}
MFA_ADAPTER = "signing_in.adapters.TwoFactorAdapter"

# --- Languages: each person's own (their profile, else their browser's), English otherwise ---------
# A language the app does not have (a browser asking for German, a customer recorded as "de") falls
# back to English. Names are written in their own language, as a person looks for theirs in a list.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers in each language's way ("4 Nov 2026", "4 nov 2026"); see recovery/formats/.
FORMAT_MODULE_PATH = ["recovery.formats"]

# --- Time: store UTC, show each location's local time --------------------------------------
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the app's static folders too, so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- Files: the managers' CSV exports ---------------------------------------------------------
# A large export is written by a worker and kept in the "exports" storage until it expires; the page
# serves it only to the person who asked and their organization's admins, never from a public URL.
# Local files by default (`make run`); in production set EXPORTS_STORAGE_BACKEND to an object store's
# backend (e.g. django-storages' S3 one, once installed) and its options as JSON.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {
        "BACKEND": os.environ.get("EXPORTS_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": json.loads(os.environ.get("EXPORTS_STORAGE_OPTIONS") or "null")
        or {"location": str(VAR_DIR / "exports"), "base_url": None},
    },
}
# --- Files: photos and receipts attached to incidents --------------------------------------------
# Served only through the permission-checked view (attachments.views), never from a public URL. Local
# files under var/ by default (`make run`); ATTACHMENTS_STORAGE=s3 keeps them in an S3-compatible bucket
# through django-storages (AWS_STORAGE_BUCKET_NAME, AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL for a
# non-AWS store, credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the instance's role).
if os.environ.get("ATTACHMENTS_STORAGE", "local") == "s3":
    STORAGES["attachments"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "location": os.environ.get("ATTACHMENTS_S3_PREFIX", "attachments"),
        "default_acl": None, "querystring_auth": True, "file_overwrite": False,
    }}
else:
    STORAGES["attachments"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                               "OPTIONS": {"location": str(VAR_DIR / "attachments"), "base_url": None}}
# A phone's photo is 3–12 MB; a file over this is refused with a form error. The web server in front
# must let a request of ATTACHMENTS_MAX_FILES such files through (nginx: client_max_body_size 100m).
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(15 * 1024 * 1024)))
ATTACHMENTS_PER_INCIDENT = int(os.environ.get("ATTACHMENTS_PER_INCIDENT", "20"))
ATTACHMENTS_MAX_FILES = int(os.environ.get("ATTACHMENTS_MAX_FILES", "5"))  # in one upload
# Exports of up to this many rows are answered at once; larger ones become a job with a progress bar.
EXPORT_IMMEDIATE_MAX_ROWS = int(os.environ.get("EXPORT_IMMEDIATE_MAX_ROWS", "5000"))
# How long a finished export can be downloaded before its file is deleted.
EXPORT_KEEP_FOR = datetime.timedelta(days=int(os.environ.get("EXPORT_KEEP_DAYS", "7")))

# --- Email -----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Recovery <recovery@localhost>")
# A real provider's API instead of SMTP: EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend (e.g.
# postmark, sendgrid, mailgun, amazon_ses) and its settings as JSON in ANYMAIL, e.g.
# ANYMAIL='{"POSTMARK_SERVER_TOKEN": "..."}'. See README, "Messages to customers".
if os.environ.get("ANYMAIL"):
    ANYMAIL = json.loads(os.environ["ANYMAIL"])

# --- Messages to customers (outreach) ----------------------------------------------------------
# Emails to customers come from the author's name at this address (default: DEFAULT_FROM_EMAIL's).
OUTREACH_FROM_EMAIL = os.environ.get("OUTREACH_FROM_EMAIL", "")
# Messages one worker claims and sends over one SMTP connection at a time.
OUTREACH_BATCH = int(os.environ.get("OUTREACH_BATCH", "100"))
# A worker's claim on a batch lapses after this (a worker killed mid-batch is then replaced); longer
# than a batch can take with EMAIL_TIMEOUT per message.
OUTREACH_SENDING_LEASE = datetime.timedelta(seconds=int(os.environ.get("OUTREACH_SENDING_LEASE_SECONDS", "900")))
# One worker task sends batches for at most this long, then leaves the rest to the next task.
OUTREACH_PASS_SECONDS = float(os.environ.get("OUTREACH_PASS_SECONDS", "60"))
# Text messages: outreach.sms.ConsoleBackend (default), outreach.sms.FileBackend (SMS_FILE_PATH) or
# outreach.sms.TwilioBackend (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER; SMS_API_URL for another host).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "outreach.sms.ConsoleBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms.log"))
SMS_API_URL = os.environ.get("SMS_API_URL", "https://api.twilio.com")
SMS_ACCOUNT_SID = os.environ.get("SMS_ACCOUNT_SID", "")
SMS_AUTH_TOKEN = os.environ.get("SMS_AUTH_TOKEN", "")
SMS_FROM_NUMBER = os.environ.get("SMS_FROM_NUMBER", "")
SMS_STATUS_CALLBACK = os.environ.get("SMS_STATUS_CALLBACK", "")
SMS_CONNECT_TIMEOUT = float(os.environ.get("SMS_CONNECT_TIMEOUT", "5"))
SMS_READ_TIMEOUT = float(os.environ.get("SMS_READ_TIMEOUT", "10"))
# Phone numbers are stored in E.164; one typed without a country code is read in this region.
PHONENUMBER_DEFAULT_REGION = os.environ.get("PHONE_NUMBER_DEFAULT_REGION", "GB")
PHONENUMBER_DB_FORMAT = "E164"

# --- Celery ----------------------------------------------------------------------------------
# REDIS_URL selects Redis; without it the broker is a SQLite file of its own, so no server is
# needed (`recovery/broker.py` says how it is opened; recovery/celery.py applies it). It does not
# redeliver after a crash, which is acceptable: every deadline lives in the database and the sweep
# drives it again.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
if CELERY_BROKER_URL.startswith("sqla+sqlite:///"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    # Minutes, not the default hour: an unacknowledged delivery comes back soon after a crash.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The engine's periodic passes have a queue of their own, which every worker also consumes: workers
# take from their queues in turn, so a burst of deliveries never holds a sweep back past its expiry.
CELERY_TASK_QUEUES = (Queue("engine", routing_key="engine"), Queue("celery", routing_key="celery"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "followups.tasks.sweep_followups": {"queue": "engine"},
    "helpdesk.tasks.pump_webhooks": {"queue": "engine"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "15"))
# /healthz calls beat stale when the sweep has not finished for this long (four missed passes).
HEALTH_BEAT_MAX_AGE_SECONDS = float(os.environ.get("HEALTH_BEAT_MAX_AGE_SECONDS", 4 * SWEEP_INTERVAL_SECONDS + 30))

# --- Follow-up engine ---------------------------------------------------------------------------
# Links in emails point here.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Incidents one sweep pass acts on at most; the rest are the next pass's work.
FOLLOWUPS_SWEEP_BATCH = int(os.environ.get("FOLLOWUPS_SWEEP_BATCH", "500"))
# An email no task has sent by this long after it was queued is queued again by the sweep.
FOLLOWUPS_REQUEUE_AFTER = datetime.timedelta(seconds=int(os.environ.get("FOLLOWUPS_REQUEUE_AFTER_SECONDS", "60")))
# A worker's claim on an email lapses after this; a worker killed mid-send is then replaced. Longer
# than EMAIL_TIMEOUT, so a slow but live send is never taken over.
FOLLOWUPS_DELIVERY_LEASE = datetime.timedelta(seconds=int(os.environ.get("FOLLOWUPS_DELIVERY_LEASE_SECONDS", "120")))
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Recovery API",
    "DESCRIPTION": "Incidents, their recovery steps and follow-ups, for helpdesk integrations.",
    "VERSION": "1.0.0",
}

# --- Security ----------------------------------------------------------------------------------
# With DEBUG off, HTTPS is on by default: the redirect, secure cookies and HSTS. Production sets only what
# README's "Production processes" lists, and `python manage.py check --deploy` is clean. Each protection has
# its own opt-out for a deployment that provides it another way.
# Behind a proxy that terminates TLS: BEHIND_TLS_PROXY=1 trusts its X-Forwarded-Proto, so a request that
# reached the proxy over HTTPS counts as secure and the redirect below does not loop. The proxy must set the
# header itself, overwriting any a client sent.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# SECURE_SSL_REDIRECT=0 when the proxy redirects to HTTPS itself and talks plain HTTP to the app without
# that header: the app would otherwise redirect every request, forever.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer checks health over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
# Browsers keep to HTTPS for a year once they have seen the header (sent on HTTPS responses only);
# SECURE_HSTS_SECONDS=0 turns it off, e.g. while a host name still has to answer plain HTTP.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Scripts only from the app itself: no inline script, no CDN. Inline style attributes are allowed
# because the Django admin uses them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Request size limits: forms are small; the API has its own, tighter limit. Neither counts uploaded files
# (Django streams a file over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file): their limits are ATTACHMENT_*.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(1024 * 1024)))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Structured logs (JSON lines with request ids) unless LOG_FORMAT=plain, e.g. for reading by eye.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "recovery.request_logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "recovery.request_logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": os.environ.get("LOG_FORMAT", "json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Helpdesk API: errors, paging, rate limits, idempotency, webhooks, docs ---------------------
INSTALLED_APPS += ["drf_spectacular_sidecar"]  # Swagger UI served from our own static files (no CDN)
REST_FRAMEWORK.update(
    {
        "EXCEPTION_HANDLER": "helpdesk.errors.exception_handler",
        "DEFAULT_PARSER_CLASSES": ["helpdesk.parsers.JSONParser"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_THROTTLE_CLASSES": ["helpdesk.throttling.ClientRateThrottle"],
        "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    }
)
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "COMPONENT_SPLIT_REQUEST": True,
        "SERVE_INCLUDE_SCHEMA": False,
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "helpdesk.schema.document_rate_limit_headers",
        ],
        "ENUM_NAME_OVERRIDES": {
            "ChannelEnum": "incidents.models.Channel",
            "BusynessEnum": "incidents.models.Busyness",
            "SeverityEnum": "incidents.models.Severity",
            "GestureKindEnum": "incidents.models.Gesture.Kind",
            "GestureApprovalEnum": "incidents.models.Gesture.Approval",
            "FollowUpKindEnum": "incidents.models.FollowUp.Kind",
            "MessageChannelEnum": "outreach.models.Message.Channel",
            "MessageStatusEnum": "outreach.models.Message.Status",
            "ProblemStatusEnum": "problems.models.Status",
        },
    }
)
# Rate-limit counters need one store shared by every web process: Redis when REDIS_URL is set.
# A cache alias of their own, so the counters never mix with (or flush) anything else.
# The default cache holds what must be shared by every web process (password-reset limits): Redis when
# there is one, otherwise files on this machine, which `make run`'s processes share.
# Either one being unreachable costs no request its answer (`recovery.shared_cache`). Django hands a
# Redis cache's OPTIONS to redis-py's connection pool, and so to every connection it opens: a counter
# answers in well under a millisecond, so half a second to connect or to answer is plenty, where
# redis-py's default of 5 s would hold requests that long while Redis is unreachable.
REDIS_CACHE_TIMEOUT_SECONDS = float(os.environ.get("REDIS_CACHE_TIMEOUT_SECONDS", "0.5"))
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": REDIS_CACHE_TIMEOUT_SECONDS, "socket_timeout": REDIS_CACHE_TIMEOUT_SECONDS}
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "recovery",
         "OPTIONS": REDIS_CACHE_OPTIONS}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
    )
}
CACHES["api"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "recovery-api",
     "OPTIONS": REDIS_CACHE_OPTIONS}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "recovery-api"}
)
API_RATE_LIMIT_PREFIX = os.environ.get("API_RATE_LIMIT_PREFIX", "rate")
API_STAFF_RATE_PER_MINUTE = int(os.environ.get("API_STAFF_RATE_PER_MINUTE", "300"))
# Bodies over this answer 413: an incident or a step is a few kilobytes at most.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(64 * 1024)))
IDEMPOTENCY_KEY_TTL = datetime.timedelta(hours=int(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24")))
# One webhook send (lookup, connect, request, the answer's status line and headers) is cut off after
# this many seconds in all; the delivery's claim lasts a little longer, so no other worker sends it
# meanwhile. WEBHOOK_TIMEOUT_SECONDS is its former name.
WEBHOOK_DEADLINE_SECONDS = float(
    os.environ.get("WEBHOOK_DEADLINE_SECONDS", os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
)
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
# Webhooks may not call into the app's own network (loopback, private ranges) unless this is set,
# e.g. for a helpdesk on the same private network.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
