"""Django settings for Huibao.

Everything that differs between a laptop and production comes from the environment (see
`docs/deploy.md` for the full list). Defaults give a working SQLite development set-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from huibao.benchmark.config import check_bench_mode
from huibao.core import deployment
from huibao.env import BASE_DIR, env_bool, env_int, env_list, env_map, env_str, load_dotenv

load_dotenv(BASE_DIR / ".env")

TESTING = "pytest" in sys.modules or env_bool("HUIBAO_TESTING")
HUIBAO_ENV = env_str("HUIBAO_ENV", "test" if TESTING else "development")
PRODUCTION = HUIBAO_ENV == "production"

DEBUG = env_bool("DEBUG", default=HUIBAO_ENV == "development")
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = "insecure-development-key-change-me-" + HUIBAO_ENV

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
VAR_DIR = Path(env_str("HUIBAO_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "huibao.core",
    "huibao.notification",
    "huibao.jobs",
    "huibao.webhook",
    "huibao.account",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_tasks_db",
    "huibao.catalog",
    "huibao.distribution",
    "huibao.rating",
    "huibao.payment",
    "huibao.billing",
    "huibao.identity",
    "huibao.application",
    "huibao.underwriting",
    "huibao.policy",
    "huibao.embedded",
    "huibao.renewal",
    "huibao.fraud",
    "huibao.provider",
    "huibao.claim",
    "huibao.finance",
    "huibao.report",
    "huibao.partner",
    "huibao.esign",
    "huibao.benchmark",
    # Only so that /api/docs serves Swagger UI from our static files, not from a CDN.
    "ninja",
    # Last: registers its adapters with the ports of the apps above.
    "huibao.sandbox",
]

MIDDLEWARE = [
    "huibao.core.headers.AnonymousServerMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads cookies, headers or the body: NUL / lone surrogates, too-large bodies.
    "huibao.core.input_guard.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # ?ref=CODE on any page: the channel or agent the customer came from (distribution).
    "huibao.distribution.middleware.ReferralMiddleware",
    "huibao.core.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the session's user from the shared cache when it is there (no read of its row
    # per request; nothing personal cached): account/usercache.py, HUIBAO_USER_CACHE_SECONDS.
    "huibao.account.usercache.CachedUserAuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Right after the middlewares that read the session user: a bearer token replaces that user
    # under /api/ (after OTPMiddleware, so that one never reads the session for a token request).
    "huibao.account.middleware.BearerTokenMiddleware",
    # The API's one CSRF check (a session cookie needs the token; a bearer token does not).
    "huibao.account.middleware.ApiCsrfMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "huibao.core.middleware.SandboxNoticeMiddleware",  # Huibao-Sandbox header, when any is allowed
    "axes.middleware.AxesMiddleware",
]

# Bench mode (`python -m bench issue`): the floor endpoint and a Server-Timing header on every
# response; refused with DEBUG off unless HUIBAO_ALLOW_BENCH_FLOOR=1 (huibao/benchmark/config.py).
HUIBAO_BENCH_FLOOR = env_bool("HUIBAO_BENCH_FLOOR")
HUIBAO_BENCH_PROFILE_DIR = env_str("HUIBAO_BENCH_PROFILE_DIR")
check_bench_mode(
    enabled=HUIBAO_BENCH_FLOOR,
    debug=DEBUG,
    allowed=env_bool("HUIBAO_ALLOW_BENCH_FLOOR"),
    profile_dir=HUIBAO_BENCH_PROFILE_DIR,
)
if HUIBAO_BENCH_FLOOR:
    MIDDLEWARE.insert(0, "huibao.benchmark.timing.ServerTimingMiddleware")

ROOT_URLCONF = "huibao.urls"
WSGI_APPLICATION = "huibao.wsgi.application"
ASGI_APPLICATION = "huibao.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "huibao" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "huibao.core.context_processors.ui_preferences",
                "huibao.core.context_processors.backoffice",
                "huibao.catalog.context_processors.compare_tray",
                "huibao.notification.context_processors.inbox_badge",
                "django.template.context_processors.csp",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'huibao.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Closing the last SQLite connection checkpoints the WAL (~10 ms): servers under load set
    # DB_CONN_MAX_AGE to keep one connection per thread (the benchmark does).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE makes writers queue for the lock instead of failing on upgrade; WAL lets
        # readers run beside the writer.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file, not memory, so a live server thread and the browser tests share the database.
    _db_name = Path(str(DATABASES["default"]["NAME"]))
    DATABASES["default"]["TEST"] = {"NAME": str(_db_name.with_name(_db_name.stem + ".test.sqlite3"))}
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side binding: parameters travel apart from the SQL, and psycopg prepares a statement
    # on a connection after its 5th use, so PostgreSQL parses and plans it once per connection.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = env_bool("DB_SERVER_SIDE_BINDING", False)
# A streaming replica for the reads that may lag (the catalog's, outside transactions):
# huibao/core/dbrouter.py. Tests mirror it onto the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60)),
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["huibao.core.dbrouter.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions: with the shared cache a request reads its session from Redis (the database only on a
# miss; every write goes to both). Never with the per-process locmem cache: a logout in one
# worker would not reach the others.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
)

# The logged-in user of a request, from the shared cache (account/usercache.py): seconds an entry
# lives. Off (0) without Redis: a per-process cache would not see another worker's change.
HUIBAO_USER_CACHE_SECONDS = env_int("HUIBAO_USER_CACHE_SECONDS", 300 if REDIS_URL else 0)

# --- Background tasks (Django's tasks framework, durable database backend) ---------------------
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
# TASKS_BACKEND=django_tasks_rq.RQBackend (the `rq` extra): the queue lives in Redis at
# RQ_URL (default REDIS_URL); workers run `rqworker default` (docs/notification.md).
RQ_QUEUES = {"default": {"URL": env_str("RQ_URL", REDIS_URL or "redis://127.0.0.1:6379/0")}}
if TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
    INSTALLED_APPS.append("django_rq")  # its `rqworker` command

# --- Daily jobs (huibao.jobs; docs/deploy.md "Daily jobs") -----------------------------------
JOBS_DAILY_AT = env_str("JOBS_DAILY_AT", "00:30")  # local time the scheduler starts the daily run
JOBS_STALE_AFTER = 600  # seconds without a heartbeat after which a running job is resumed elsewhere
JOBS_CATCH_UP_MAX_DAYS = 31  # catch-up goes back at most this many days

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "account.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "huibao.account.backends.PhonePasswordBackend",
    "huibao.account.backends.SmsCodeBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account:login"
LOGIN_REDIRECT_URL = "/"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
# Customers' failures are counted under a pseudonym: mobile numbers never sit in clear in axes' tables.
AXES_USERNAME_CALLABLE = "huibao.account.lockout.axes_username"
AXES_LOCKOUT_CALLABLE = "huibao.account.lockout.lockout_response"  # Chinese page, HTTP 429
OTP_TOTP_ISSUER = "Huibao 汇保"
SMS_BACKEND = deployment.sms_backend(env_str("SMS_BACKEND", "huibao.notification.sms.ConsoleSmsBackend"))
# --- Notifications (docs/notification.md) ---------------------------------------------------------
# E-mail through Django's mailers (Django 6.1 `MAILERS`): SMTP from EMAIL_HOST/EMAIL_PORT/… in the
# environment; development without EMAIL_HOST prints messages to the console instead.
_EMAIL_HOST = env_str("EMAIL_HOST")
if _EMAIL_HOST or PRODUCTION:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST or "localhost",
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "use_ssl": env_bool("EMAIL_USE_SSL", False),
                "timeout": env_int("EMAIL_TIMEOUT", 10),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "汇保 <noreply@huibao.local>")
HUIBAO_MAIL_DOMAIN = env_str("HUIBAO_MAIL_DOMAIN", "huibao.local")  # right of the @ in Message-IDs
HUIBAO_NOTIFICATION_MAX_ATTEMPTS = env_int("HUIBAO_NOTIFICATION_MAX_ATTEMPTS", 6)
# SMS_BACKEND=huibao.notification.aliyun.AliyunSmsBackend: 阿里云短信 (huibao/notification/aliyun.py).
ALIYUN_SMS_ACCESS_KEY_ID = env_str("ALIYUN_SMS_ACCESS_KEY_ID")
ALIYUN_SMS_ACCESS_KEY_SECRET = env_str("ALIYUN_SMS_ACCESS_KEY_SECRET")
ALIYUN_SMS_SIGN_NAME = env_str("ALIYUN_SMS_SIGN_NAME", "汇保")
ALIYUN_SMS_ENDPOINT = env_str("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
# "our_template:SMS_123" pairs, e.g. "account.login_code:SMS_1,policy.issued:SMS_2".
ALIYUN_SMS_TEMPLATES = env_map("ALIYUN_SMS_TEMPLATES")
# Personal API access tokens (`Authorization: Bearer hb_…`) expire after this many days.
HUIBAO_API_TOKEN_DAYS = env_int("HUIBAO_API_TOKEN_DAYS", 30)

# --- Personal-data encryption -----------------------------------------------------------------
# HUIBAO_DATA_KEYS: comma-separated "key_id:base64(32 bytes)"; the first one encrypts, all decrypt.
# HUIBAO_LOOKUP_KEY: base64 key of the keyed hash (HMAC-SHA256) kept beside each encrypted value.
HUIBAO_DATA_KEYS = env_str("HUIBAO_DATA_KEYS")
HUIBAO_LOOKUP_KEY = env_str("HUIBAO_LOOKUP_KEY")
if PRODUCTION and not (HUIBAO_DATA_KEYS and HUIBAO_LOOKUP_KEY):
    raise ImproperlyConfigured("HUIBAO_DATA_KEYS and HUIBAO_LOOKUP_KEY must be set in production")

# --- E-signature and payments -----------------------------------------------------------------
# Passphrase that encrypts the platform CA's private keys in VAR_DIR/ca (empty in development).
HUIBAO_SIGNING_KEY_PASSPHRASE = env_str("HUIBAO_SIGNING_KEY_PASSPHRASE")
# HMAC secret shared with the sandbox payment gateway (derived from SECRET_KEY when empty).
PAYMENT_SANDBOX_SECRET = env_str("PAYMENT_SANDBOX_SECRET")
# HMAC secrets of the face-check and insurer sandboxes (derived from SECRET_KEY when empty).
FACE_SANDBOX_SECRET = env_str("FACE_SANDBOX_SECRET")
INSURER_SANDBOX_SECRET = env_str("INSURER_SANDBOX_SECRET")
PAYOUT_SANDBOX_SECRET = env_str("PAYOUT_SANDBOX_SECRET")
# HMAC keys of the event feeds (flight status, returns): "source:key" pairs (claim/events_port.py).
EVENT_SOURCE_KEYS = env_map("HUIBAO_EVENT_SOURCE_KEYS")
# HMAC key of the sandbox flight-status feed (derived from SECRET_KEY when empty).
FLIGHT_FEED_SANDBOX_SECRET = env_str("FLIGHT_FEED_SANDBOX_SECRET")
# Sandbox faults for trying the platform's behaviour (0–1: share of calls that fail).
HUIBAO_IDENTITY_SANDBOX_FAILURE_RATE = float(env_str("HUIBAO_IDENTITY_SANDBOX_FAILURE_RATE", "0") or 0)
HUIBAO_INSURER_SANDBOX_FAILURE_RATE = float(env_str("HUIBAO_INSURER_SANDBOX_FAILURE_RATE", "0") or 0)
# Share of payout submissions the sandbox refuses at once as 系统繁忙 (retryable).
HUIBAO_PAYOUT_SANDBOX_FAILURE_RATE = float(env_str("HUIBAO_PAYOUT_SANDBOX_FAILURE_RATE", "0") or 0)
# Seconds the sandbox payout gateway waits before it notifies the result of a transfer.
HUIBAO_PAYOUT_SANDBOX_DELAY = env_int("HUIBAO_PAYOUT_SANDBOX_DELAY", 3)

# --- Remote systems: which adapter serves each port ("sandbox": the in-process sandboxes) ------
PAYMENT_PROVIDER = env_str("PAYMENT_PROVIDER", "sandbox")
# Payouts to customers' bank accounts (claim payments, event-triggered benefits): docs/payment.md.
PAYOUT_PROVIDER = env_str("PAYOUT_PROVIDER", "sandbox")
IDENTITY_PROVIDER = env_str("IDENTITY_PROVIDER", "sandbox")
FACE_PROVIDER = env_str("FACE_PROVIDER", "sandbox")
# "CODE:connector" pairs, "*" for every other insurer (default: every insurer "sandbox").
HUIBAO_INSURER_CONNECTORS = env_map("HUIBAO_INSURER_CONNECTORS")
# Outside development (production, or DEBUG off anywhere but the tests) the platform does not start
# on a development part (sandbox provider, console/sandbox SMS) unless this comma list names it:
# payment,payout,identity,face,insurer,sms. Those allowed are announced on every page and response.
HUIBAO_ALLOW_SANDBOX = env_list("HUIBAO_ALLOW_SANDBOX")
HUIBAO_STRICT = PRODUCTION or not (DEBUG or TESTING)
HUIBAO_SANDBOX_NOTICE = deployment.enforce(
    strict=HUIBAO_STRICT,
    in_use=deployment.sandbox_parts_in_use(
        payment_provider=PAYMENT_PROVIDER,
        payout_provider=PAYOUT_PROVIDER,
        identity_provider=IDENTITY_PROVIDER,
        face_provider=FACE_PROVIDER,
        insurer_connectors=HUIBAO_INSURER_CONNECTORS,
        sms_backend=SMS_BACKEND,
    ),
    allowed=HUIBAO_ALLOW_SANDBOX,
)

# Real payment gateways (huibao/payment/gateways, docs/deploy.md "Going live with Alipay / WeChat
# Pay"): an adapter registers when its settings are complete; PAYMENT_PROVIDER naming one that
# is not refuses to start, naming what is missing. Key files are PEM (paths, never the keys here).
ALIPAY_APP_ID = env_str("ALIPAY_APP_ID")
ALIPAY_APP_PRIVATE_KEY_PATH = env_str("ALIPAY_APP_PRIVATE_KEY_PATH")
ALIPAY_PUBLIC_KEY_PATH = env_str("ALIPAY_PUBLIC_KEY_PATH")
# Alipay's sandbox (openapi-sandbox.dl.alipaydev.com) instead of the live gateway.
ALIPAY_SANDBOX = env_bool("ALIPAY_SANDBOX", False)
# "page" (电脑网站支付 alipay.trade.page.pay) or "wap" (手机网站支付 alipay.trade.wap.pay).
ALIPAY_PAY_METHOD = env_str("ALIPAY_PAY_METHOD", "page")
# The Alipay checkout page posts the signed order to the gateway, which sends the payer on to
# its cashier: both must be allowed form targets (CSP form-action also covers the redirect).
ALIPAY_FORM_ACTION = (
    (
        ["https://*.alipaydev.com"]
        if ALIPAY_SANDBOX
        else ["https://openapi.alipay.com", "https://*.alipay.com"]
    )
    if ALIPAY_APP_ID
    else []
)
WECHATPAY_MCHID = env_str("WECHATPAY_MCHID")
WECHATPAY_APPID = env_str("WECHATPAY_APPID")
WECHATPAY_PRIVATE_KEY_PATH = env_str("WECHATPAY_PRIVATE_KEY_PATH")
WECHATPAY_CERT_SERIAL_NO = env_str("WECHATPAY_CERT_SERIAL_NO")
WECHATPAY_APIV3_KEY = env_str("WECHATPAY_APIV3_KEY")
WECHATPAY_PLATFORM_CERT_DIR = env_str("WECHATPAY_PLATFORM_CERT_DIR")
WECHATPAY_PUBLIC_KEY_PATH = env_str("WECHATPAY_PUBLIC_KEY_PATH")
WECHATPAY_PUBLIC_KEY_ID = env_str("WECHATPAY_PUBLIC_KEY_ID")
# "native" (扫码: a code_url shown as a QR code) or "h5" (手机浏览器: the h5_url).
WECHATPAY_TRADE_TYPE = env_str("WECHATPAY_TRADE_TYPE", "native")
PAYMENT_GATEWAY_SETTINGS = {
    name: str(globals()[name]) for names in deployment.GATEWAY_SETTINGS.values() for name in names
} | {name: str(globals()[name]) for names in deployment.WECHATPAY_VERIFIERS for name in names}

# --- Audit chain -------------------------------------------------------------------------------
# Seconds an entry's time may lie before the newest sealed entry's (or after the sealer's clock)
# before the sealer refuses it: clock difference between servers + the longest transaction.
AUDIT_MAX_CLOCK_SKEW = env_int("AUDIT_MAX_CLOCK_SKEW", 300)

# --- Insurer deliveries -------------------------------------------------------------------------
# Attempts to tell the insurer of an issued policy before the delivery is marked failed.
HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS = env_int("HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS", 8)

# --- Applications ---------------------------------------------------------------------------
# An application not paid within this time expires; a payment left open expires sooner.
# Who runs the platform (huibao.distribution.selectors): "agency" — a licensed agency; a product
# sells only under an active agreement with its insurer — or "insurer:<code>", one insurer's own
# online channel (its products need no agreement; other insurers' are refused).
HUIBAO_OPERATOR = env_str("HUIBAO_OPERATOR", "agency")
HUIBAO_APPLICATION_TTL_HOURS = env_int("HUIBAO_APPLICATION_TTL_HOURS", 72)
HUIBAO_PAYMENT_TTL_MINUTES = env_int("HUIBAO_PAYMENT_TTL_MINUTES", 30)
# A quote older than this cannot start or confirm an application (prices and rules may have moved).
HUIBAO_QUOTE_TTL_HOURS = env_int("HUIBAO_QUOTE_TTL_HOURS", 72)

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "huibao" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "huibao" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING  # serve from the finders; no collectstatic needed

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own, `django.middleware.csp`): scripts and styles only from
# our origin, or inline with the per-request nonce (`{% csp_nonce_attr %}`, as the admin does);
# no inline event handlers, no eval, no style attributes, nothing framed, no plug-ins.
# `data:` images: the handwritten signatures on replay pages and Swagger UI's icons. Form posts
# stay on our origin (a real payment gateway's hosted page is added with HUIBAO_CSP_FORM_ACTION).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "media-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF, *ALIPAY_FORM_ACTION, *env_list("HUIBAO_CSP_FORM_ACTION", [])],
    "frame-ancestors": [CSP.NONE],
}
# In the API's error shape under /api/, a Chinese page elsewhere.
CSRF_FAILURE_VIEW = "huibao.core.error_views.csrf_failure"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)

# --- Logging: personal data is masked out of every record -----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "huibao.core.masking.MaskPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_personal_data"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler does not mask: route its records through ours only.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "jieba": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Huibao business defaults (operators override them in versioned configuration) ------------
HUIBAO_SITE_NAME = "汇保"
# How often (seconds) a process checks whether the catalog changed before reusing its search index.
HUIBAO_SEARCH_CHECK_SECONDS = env_int("HUIBAO_SEARCH_CHECK_SECONDS", 0 if TESTING else 1)
# A web server process (huibao.wsgi / huibao.asgi) builds the search index at start, not in its first request
# (not under tests: the browser tests' session warms it once, `e2e/conftest.py`).
HUIBAO_WARM_SEARCH_AT_START = env_bool("HUIBAO_WARM_SEARCH_AT_START", not TESTING)
# Number of reverse proxies in front of the app whose X-Forwarded-For entries are trusted.
HUIBAO_TRUSTED_PROXY_COUNT = env_int("HUIBAO_TRUSTED_PROXY_COUNT", 0)
HUIBAO_PUBLIC_URL = env_str("HUIBAO_PUBLIC_URL", "http://127.0.0.1:8000")
# A real payment gateway must be fully configured (settings above, with the payment providers).
deployment.require_payment_gateway(
    PAYMENT_PROVIDER, PAYMENT_GATEWAY_SETTINGS, public_url=HUIBAO_PUBLIC_URL, strict=HUIBAO_STRICT
)
