"""Canopy settings, read from the environment.

Local development needs nothing set: SQLite, in-process Celery tasks, console e-mail.
``CANOPY_ENV=production`` turns the safety checks on; a missing or malformed value stops the
process at start-up with ``ImproperlyConfigured`` naming the variable. See README.md for the
table of variables and ``.env.example`` for a starting point.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from community.env import env_bool, env_choice, env_int, env_list, env_required, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# A developer's .env fills in what the real environment leaves unset; it never overrides it.
load_dotenv(BASE_DIR / ".env", override=False)

CANOPY_ENV = env_choice("CANOPY_ENV", "development", ("development", "production"))
PRODUCTION = CANOPY_ENV == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when CANOPY_ENV=production")

_INSECURE_KEY = "django-insecure-canopy-local-development-key-never-use-in-production"
if PRODUCTION:
    SECRET_KEY = env_required("SECRET_KEY", why="production signs sessions and tokens with it")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak for production: use at least 50 random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names Canopy answers to, comma-separated")
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must not contain '*' in production; list the real host names")
else:
    SECRET_KEY = env_str("SECRET_KEY") or _INSECURE_KEY
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=("127.0.0.1", "localhost", "[::1]", "testserver"))

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlparse(_origin).scheme not in ("http", "https") or not urlparse(_origin).netloc:
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must look like https://example.org")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "mptt",
    "core",
    "subgroups",
    "outbox",
    "members",
    "content",
    "analytics",
    "recall",
    "engagement",
    "fission",
    "programme",
    "grouping",
    "lifecycle",
    "community",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "community.urls"
WSGI_APPLICATION = "community.wsgi.application"
ASGI_APPLICATION = "community.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "subgroups.context_processors.communities",
                "members.context_processors.funnel",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        _database = dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Canopy understands: {error}") from None
    if _database["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…) or SQLite (sqlite:///…)")
else:
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # The dev server and in-process tasks share one file: writers take the lock up front
    # (BEGIN IMMEDIATE) and wait for it rather than failing half-way through a transaction.
    _database.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker and result backend ----------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and urlparse(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "canopy"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "canopy"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# With no broker configured, tasks run in-process so a laptop needs nothing but Python.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# The longest task (a full metric run of a large community, a chat-log import) must end well
# inside this; a task still running at the limit is stopped (the soft limit a minute earlier
# lets it end cleanly).
CELERY_TASK_TIME_LIMIT = env_int("CANOPY_TASK_TIME_LIMIT", 900, minimum=120)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 1)
# A task taken by a worker that dies is handed to another after the broker's visibility timeout
# (kombu's default is an hour). It must outlast the longest task, or a slow task would be
# handed out twice: the time limit and five minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "core.tasks.purge_idempotency_keys", "schedule": 3600},
    "check-trees": {
        "task": "subgroups.tasks.check_trees",
        "schedule": env_int("CANOPY_TREE_CHECK_SECONDS", 6 * 3600, minimum=60),
    },
    "expire-roles": {"task": "members.tasks.expire_roles", "schedule": 3600},
    "deliver-webhooks": {"task": "outbox.tasks.deliver_due", "schedule": 15},
    "run-content-calendar": {"task": "content.tasks.run_calendar", "schedule": 60},
    "draft-digests": {
        "task": "content.tasks.draft_digests",
        "schedule": crontab(hour=env_int("CANOPY_DIGEST_HOUR", 1, minimum=0, maximum=23), minute=0, day_of_week="mon"),
    },
    "recall": {
        "task": "recall.tasks.recall_all",
        "schedule": env_int("CANOPY_RECALL_MINUTES", 15, minimum=1, maximum=24 * 60) * 60,
    },
    "recall-dispatch": {"task": "recall.tasks.dispatch_due", "schedule": 60},
    "engagement-sweeps": {
        "task": "engagement.tasks.sweeps_all",
        "schedule": env_int("CANOPY_ENGAGEMENT_MINUTES", 10, minimum=1, maximum=24 * 60) * 60,
    },
    "fission-credit": {
        "task": "fission.tasks.credit_all",
        "schedule": 60 * env_int("CANOPY_FISSION_MINUTES", 5, minimum=1, maximum=1440),
    },
    "lifecycle": {
        "task": "lifecycle.tasks.lifecycle_all",
        "schedule": crontab(hour=env_int("CANOPY_LIFECYCLE_HOUR", 1, minimum=0, maximum=23), minute=30),
    },
    "compute-metrics": {
        "task": "analytics.tasks.compute_all",
        "schedule": 60 * env_int("CANOPY_METRICS_MINUTES", 10, minimum=1, maximum=1440),
    },
    "weekly-health-reports": {
        "task": "analytics.tasks.weekly_reports",
        "schedule": crontab(hour=env_int("CANOPY_REPORT_HOUR", 2, minimum=0, maximum=23), minute=0, day_of_week="mon"),
    },
    # The 1st and the 2nd: on the 1st (UTC) the month has not yet ended west of UTC.
    "programme-assessments": {
        "task": "programme.tasks.assess_last_month",
        "schedule": crontab(hour=4, minute=0, day_of_month="1,2"),
    },
    "programme-close-rounds": {"task": "programme.tasks.close_due_rounds", "schedule": 3600},
    # Nightly: retrain the sub-group recommendations, then refresh the survey's suggestions.
    "grouping-nightly": {
        "task": "grouping.tasks.grouping_all",
        "schedule": crontab(hour=env_int("CANOPY_GROUPING_HOUR", 3, minimum=0, maximum=23), minute=15),
    },
}

# --- Auth, sessions, security ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    _https = env_bool("HTTPS", default=True)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
    if env_bool("BEHIND_HTTPS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# collectstatic's target; only production collects (elsewhere whitenoise reads the finders).
STATIC_ROOT = env_str("STATIC_ROOT") or (BASE_DIR / "staticfiles" if PRODUCTION else None)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production whitenoise serves straight from the finders: no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- REST API -------------------------------------------------------------------------------
# A full batch of 5,000 events with their texts, or an uploaded chat log, is bigger than 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "outbox.auth.IntegrationKeyAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "outbox.auth.KeyScopes"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "120/min"),
        "user": env_str("API_THROTTLE_USER", "6000/min"),
        # The public endpoints (apply, accept an invitation, resolve a live code), per address.
        "public": env_str("API_THROTTLE_PUBLIC", "60/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": env_int("CANOPY_TRUSTED_PROXY_HOPS", 0, minimum=0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Canopy API",
    "DESCRIPTION": (
        "The REST API of Canopy, for community operators' tools and the bots on WeChat/WeCom, QQ, "
        "Discord and Telegram. Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1 for the `webhooks` section: what Canopy POSTs to integrations (outbox/webhooks.py).
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": ["outbox.webhooks.outbox_message"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.postprocess"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "GroupKindEnum": "subgroups.models.GroupKind.choices",
        "SubgroupKindEnum": "subgroups.models.SUBGROUP_KINDS",
        "GroupStatusEnum": "subgroups.models.GroupStatus.choices",
        "MembershipStatusEnum": "members.models.MembershipStatus.choices",
        "ApplicationStatusEnum": "members.models.ApplicationStatus.choices",
        "LifecycleStageEnum": "subgroups.models.LifecycleStage.choices",
        "PlatformEnum": "subgroups.models.Platform.choices",
        "RoleEnum": "members.models.Role.choices",
        "PostKindEnum": "content.models.PostKind.choices",
        "ScheduleKindEnum": "content.models.SCHEDULE_KINDS",
        "PostStatusEnum": "content.models.PostStatus.choices",
        "PostSourceEnum": "content.models.PostSource.choices",
        "MembershipSourceEnum": "members.models.MembershipSource.choices",
        "FinalDecisionEnum": "content.models.FINAL_DECISIONS",
        "ReviewDecisionEnum": "content.models.ReviewDecision.choices",
        "WordActionEnum": "content.models.WordAction.choices",
        "WordCategoryEnum": "content.models.WordCategory.choices",
        "FlagStatusEnum": "content.models.FlagStatus.choices",
        "DigestStatusEnum": "content.models.DigestStatus.choices",
        "MessageKindEnum": "outbox.models.MessageKind.choices",
        "MessageStatusEnum": "outbox.models.MessageStatus.choices",
        "CallOutcomeEnum": "recall.models.CallOutcome.choices",
        "RecallChannelEnum": "recall.models.Channel.choices",
        "RecallAttemptStatusEnum": "recall.models.AttemptStatus.choices",
        "ExitReasonEnum": "recall.models.ExitReason.choices",
        "GiftKindEnum": "recall.models.GiftKind.choices",
        "LifecycleTriggerEnum": "lifecycle.models.TriggerKind.choices",
        "LifecycleMoveStatusEnum": "lifecycle.models.MoveStatus.choices",
        "RedemptionStatusEnum": "engagement.models.RedemptionStatus.choices",
        "CheckInSourceEnum": "engagement.models.CheckInSource.choices",
        "ReferralStatusEnum": "fission.models.ReferralStatus.choices",
        "ReferralRejectReasonEnum": "fission.models.RejectReason.choices",
        "ReferralMatchedOnEnum": "fission.models.MatchedOn.choices",
        "VotingRoundStatusEnum": "programme.models.RoundStatus.choices",
        "ShapeCheckKeyEnum": "programme.selectors.SHAPE_CHECK_KEYS",
        "ShapeVerdictEnum": "programme.selectors.SHAPE_VERDICTS",
    },
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Canopy ---------------------------------------------------------------------------------
# Words a group name may not contain (the source article warns against elitist names).
# A new community starts with this list; operators edit their own copy in Settings.
CANOPY_BANNED_NAME_WORDS = env_list("CANOPY_BANNED_NAME_WORDS", default=("高级", "精英"))
# The language of a new community's member-facing text unless its creator picks one.
CANOPY_DEFAULT_LANGUAGE = env_str("CANOPY_DEFAULT_LANGUAGE", "en")
if CANOPY_DEFAULT_LANGUAGE not in dict(LANGUAGES):
    raise ImproperlyConfigured(
        f"CANOPY_DEFAULT_LANGUAGE={CANOPY_DEFAULT_LANGUAGE!r} is not one of {', '.join(dict(LANGUAGES))}"
    )
CANOPY_DEFAULT_TIME_ZONE = env_str("CANOPY_DEFAULT_TIME_ZONE", "Asia/Shanghai")
if CANOPY_DEFAULT_TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"CANOPY_DEFAULT_TIME_ZONE={CANOPY_DEFAULT_TIME_ZONE!r} is not a known time zone")
# Who may see and do what. The members app provides the policy; the tree only asks it.
CANOPY_ACCESS_POLICY = "members.permissions.RoleAccessPolicy"
# Where people reach this Canopy: links sent through the bots (invitations) start with it.
CANOPY_PUBLIC_URL = env_str("CANOPY_PUBLIC_URL", "" if PRODUCTION else "http://127.0.0.1:8000")
if PRODUCTION and not CANOPY_PUBLIC_URL:
    raise ImproperlyConfigured(
        "CANOPY_PUBLIC_URL must be set in production: the address people reach Canopy at, e.g. "
        "https://canopy.example.org (every invitation and recall link starts with it)"
    )
if urlparse(CANOPY_PUBLIC_URL).scheme not in ("http", "https") or not urlparse(CANOPY_PUBLIC_URL).netloc:
    raise ImproperlyConfigured("CANOPY_PUBLIC_URL must look like https://canopy.example.org")


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


if PRODUCTION and _loopback(urlparse(CANOPY_PUBLIC_URL).hostname or ""):
    raise ImproperlyConfigured(
        f"CANOPY_PUBLIC_URL={CANOPY_PUBLIC_URL!r} is a loopback address: members could not open the links "
        "Canopy sends them. Set it to the public address, e.g. https://canopy.example.org"
    )
# A new sub-group's transition window (过渡期), and how long an invitation stays valid.
CANOPY_TRANSITION_DAYS = env_int("CANOPY_TRANSITION_DAYS", 14, minimum=0)
CANOPY_INVITATION_DAYS = env_int("CANOPY_INVITATION_DAYS", 7, minimum=1)
# How many reverse proxies (that append to X-Forwarded-For) stand in front of Canopy; 0 when
# clients connect directly. Rate limits per address read the client's address through them.
CANOPY_TRUSTED_PROXY_HOPS = env_int("CANOPY_TRUSTED_PROXY_HOPS", 0, minimum=0)
# A rotated integration key keeps working this long beside its successor.
CANOPY_KEY_ROTATION_GRACE_HOURS = env_int("CANOPY_KEY_ROTATION_GRACE_HOURS", 24, minimum=0, maximum=24 * 30)
# How long one webhook attempt holds a message before another worker may retry it.
CANOPY_OUTBOX_LEASE_SECONDS = env_int("CANOPY_OUTBOX_LEASE_SECONDS", 60, minimum=1)
# Webhooks may go to loopback and private addresses (a local bot in development); never in
# production unless you mean it.
CANOPY_WEBHOOK_ALLOW_PRIVATE = env_bool("CANOPY_WEBHOOK_ALLOW_PRIVATE", default=not PRODUCTION)
# Anti-spam on the public application form: submissions per IP per hour, per contact per day.
CANOPY_APPLY_LIMIT_PER_IP = env_int("CANOPY_APPLY_LIMIT_PER_IP", 10, minimum=1)
CANOPY_APPLY_LIMIT_PER_CONTACT = env_int("CANOPY_APPLY_LIMIT_PER_CONTACT", 3, minimum=1)
# Joins through a live code's public page, per address per hour.
CANOPY_LIVECODE_LIMIT_PER_IP = env_int("CANOPY_LIVECODE_LIMIT_PER_IP", 10, minimum=1)
# Recall: how often the engine runs (plans stages, stops the recovered) and sends what is due.
CANOPY_RECALL_MINUTES = env_int("CANOPY_RECALL_MINUTES", 15, minimum=1, maximum=24 * 60)

# --- E-mail (recall e-mails; the console in development, SMTP in production) ---------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Canopy <noreply@localhost>")
CANOPY_EMAIL_DOMAIN = urlparse(CANOPY_PUBLIC_URL).hostname or "localhost"

# Repair a damaged tree automatically when the periodic check finds one.
CANOPY_TREE_AUTOREPAIR = env_bool("CANOPY_TREE_AUTOREPAIR", default=True)
