"""One settings module, read from the environment (and a `.env` file at the project root)."""

import hashlib
import hmac
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from dotenv import load_dotenv

from config.env import env_bool, env_duration, env_str, parse_email_url

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"

# Key of the timeline's hash chain (HMAC-SHA256), kept out of the database. Derived from SECRET_KEY when unset;
# set it on its own in production so SECRET_KEY can rotate without breaking every chain.
AUDIT_KEY = (
    env_str("AUDIT_KEY")
    or hmac.new(SECRET_KEY.encode(), b"portal.onboarding.timeline.audit-key", hashlib.sha256).hexdigest()
)

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
PORTAL_BRAND = env_str("PORTAL_BRAND", "Arxus")
PORTAL_SUPPORT_EMAIL = env_str("PORTAL_SUPPORT_EMAIL", "support@example.com")
CSRF_TRUSTED_ORIGINS = [PORTAL_BASE_URL]
# How many reverse proxies of our own stand in front of the portal, each appending to X-Forwarded-For.
# The client's address is read that many places from the right; 0 (the default) uses the socket's address.
TRUSTED_PROXY_COUNT = int(env_str("TRUSTED_PROXY_COUNT", "0"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "django_tasks_db",
    "ninja",
    "portal.core",
    "portal.accounts",
    "portal.companies",
    "portal.onboarding",
    "portal.agreements",
    "portal.provisioning",
    "portal.catalog",
    "portal.pricing",
    "portal.licences",
    "portal.notifications",
    "portal.worker",
    "portal.backoffice",
    "portal.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "portal.api.middleware.JsonErrors",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.core.languages.LanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.accounts.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "portal.core.context_processors.portal",
                "portal.companies.context_processors.companies",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env_str("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the worker write side by side.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that worker processes started by the tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"portal-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

STAFF_REQUIRE_MFA = env_bool("STAFF_REQUIRE_MFA", not DEBUG)
OTP_TOTP_ISSUER = PORTAL_BRAND + " Portal"

# Passkeys and security keys (django-otp-webauthn), as a second step after the password. The relying party is the
# portal's host: a passkey registered for it works on that host (and its subdomains) only. WebAuthn takes no IP
# address, so a portal on 127.0.0.1 offers passkeys at http://localhost:<port>.
_BASE = urlsplit(PORTAL_BASE_URL)
_LOOPBACK = _BASE.hostname in ("127.0.0.1", "::1", "localhost")
_HOST = "localhost" if _LOOPBACK else (_BASE.hostname or "localhost")
OTP_WEBAUTHN_RP_ID = env_str("OTP_WEBAUTHN_RP_ID", _HOST)
OTP_WEBAUTHN_RP_NAME = env_str("OTP_WEBAUTHN_RP_NAME", OTP_TOTP_ISSUER)
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    origin.strip().rstrip("/")
    for origin in env_str(
        "OTP_WEBAUTHN_ALLOWED_ORIGINS", f"{_BASE.scheme}://{_HOST}" + (f":{_BASE.port}" if _BASE.port else "")
    ).split(",")
    if origin.strip()
]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# Removing a device, new recovery codes and member changes need a sign-in (or a confirmation) at most this old.
RECENT_AUTH_MAX_AGE = env_duration("RECENT_AUTH_MAX_AGE", "15m")

# Lockout per account on one address, and per account everywhere at a higher count; never per address alone.
AXES_HANDLER = "portal.accounts.lockout.AccountLockout"
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(env_str("AXES_FAILURE_LIMIT", "5"))
AXES_ACCOUNT_FAILURE_LIMIT = int(env_str("AXES_ACCOUNT_FAILURE_LIMIT", "20"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "portal.accounts.lockout.username"
AXES_CLIENT_IP_CALLABLE = "portal.core.net.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.accounts.views.locked_out"
AXES_VERBOSE = False

LANGUAGE_CODE = "en"
# The portal's languages (Belgium's, and English). A page's language: the signed-in person's profile, else the
# switcher's cookie, else Accept-Language; an API call's: Accept-Language, else the profile. Anything else: English.
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Belgian conventions per language (Django's own `nl` formats are the Netherlands').
FORMAT_MODULE_PATH = ["config.formats"]
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = env_str("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Bodies above this are refused with 413 before anything is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# E-mail: every message goes through the outbox and the worker (portal.notifications).
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    MAILERS = {"default": parse_email_url(EMAIL_URL)}
    MAIL_CAPTURED = False
elif DEBUG:
    MAILERS = {"default": {"BACKEND": "portal.notifications.backends.CaptureBackend"}}
    MAIL_CAPTURED = True
else:
    raise ImproperlyConfigured("EMAIL_URL must be set when DEBUG is off (e.g. smtp+tls://user:pass@host:587).")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{PORTAL_BRAND} Portal <portal@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_MESSAGE_ID_DOMAIN = env_str("EMAIL_MESSAGE_ID_DOMAIN", "portal.invalid")
EMAIL_MAX_ATTEMPTS = int(env_str("EMAIL_MAX_ATTEMPTS", "20"))
# A worker holds an e-mail it sends this long; after that any worker may send it again. The SMTP
# timeout is capped at a tenth of it (a sending waits on the network up to about ten times).
EMAIL_SEND_LEASE = env_duration("EMAIL_SEND_LEASE", "5m")
# How often each running worker puts back the jobs of dead workers and the e-mails whose lease ran out.
WORKER_SWEEP_EVERY = env_duration("WORKER_SWEEP_EVERY", "30s")

TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}

SIGNATURE_REMINDER_EVERY = env_duration("SIGNATURE_REMINDER_EVERY", "3d")
SIGNATURE_EXPIRES_AFTER = env_duration("SIGNATURE_EXPIRES_AFTER", "14d")
CORRECTION_LINK_EXPIRES_AFTER = env_duration("CORRECTION_LINK_EXPIRES_AFTER", "14d")
TRACKING_LINK_EXPIRES_AFTER = env_duration("TRACKING_LINK_EXPIRES_AFTER", "120d")
API_TOKEN_EXPIRES_AFTER = env_duration("API_TOKEN_EXPIRES_AFTER", "30d")

PROVISIONER = env_str("PROVISIONER", "simulated")
if PROVISIONER not in {"simulated", "partner_center"}:
    raise ImproperlyConfigured("PROVISIONER must be 'simulated' or 'partner_center'.")
SIMULATED_TAKEN_DOMAINS = [
    d.strip().lower()
    for d in env_str("SIMULATED_TAKEN_DOMAINS", "contoso,fabrikam,northwind,adventureworks,litware,tailspin").split(",")
    if d.strip()
]

# VIES confirmation of EU VAT numbers; empty turns it off (the check then reads "unconfirmed").
VIES_URL = env_str("VIES_URL", "" if DEBUG else "https://ec.europa.eu/taxation_customs/vies/rest-api")
VIES_TIMEOUT = float(env_str("VIES_TIMEOUT", "5"))

TERMS_VERSION = env_str("TERMS_VERSION", "2026-01")

# Rate limits on anonymous actions that send e-mail or ask Microsoft ("<count>/<period>", e.g. 10/h, 120/10m, or off),
# per client address and per e-mail address; shared by every process through the database (portal.core.ratelimit).
RATE_LIMIT_SUBMIT = env_str("RATE_LIMIT_SUBMIT", "10/h")  # request form, correction form, POST /api/v1/tenant-requests
RATE_LIMIT_SUBMIT_PER_EMAIL = env_str("RATE_LIMIT_SUBMIT_PER_EMAIL", "5/h")  # per contact e-mail address named
RATE_LIMIT_ACTIVATION = env_str("RATE_LIMIT_ACTIVATION", "10/h")  # new activation links asked for
RATE_LIMIT_ACTIVATION_PER_EMAIL = env_str("RATE_LIMIT_ACTIVATION_PER_EMAIL", "3/h")
RATE_LIMIT_PASSWORD_RESET = env_str("RATE_LIMIT_PASSWORD_RESET", "10/h")  # password reset links asked for
RATE_LIMIT_PASSWORD_RESET_PER_EMAIL = env_str("RATE_LIMIT_PASSWORD_RESET_PER_EMAIL", "3/h")
RATE_LIMIT_SIGNING_CODE = env_str("RATE_LIMIT_SIGNING_CODE", "10/h")  # signing codes (besides one a minute per link)
RATE_LIMIT_SIGNING_CODE_PER_EMAIL = env_str("RATE_LIMIT_SIGNING_CODE_PER_EMAIL", "6/h")
RATE_LIMIT_PREFIX_CHECK = env_str("RATE_LIMIT_PREFIX_CHECK", "120/10m")  # live form checks and the availability API
RATE_LIMIT_API_TOKEN = env_str("RATE_LIMIT_API_TOKEN", "30/h")  # POST /api/v1/auth/token
RATE_LIMIT_API_TOKEN_PER_EMAIL = env_str("RATE_LIMIT_API_TOKEN_PER_EMAIL", "10/h")

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (Django's middleware): our own scripts and styles only, inline ones
# only with the request's nonce ({{ csp_nonce }}); data: images for the TOTP QR code. A view that sets its own
# header (the dev mailbox's sandboxed e-mail) keeps it.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every handler redacts the one-time tokens of e-mailed links (paths like /sign/<token>/).
    "filters": {"redact_tokens": {"()": "portal.core.logging.RedactTokens"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers would print unredacted: its records go to ours (the root's) instead.
        "django": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # The task worker adds its own handler to loggers that have none: give them ours, once.
        "django.tasks": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django_tasks_db": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The service agreement and its signature.
AGREEMENT_VERSION = env_str("AGREEMENT_VERSION", "2026-01")
SIGNING_CONSENT_VERSION = env_str("SIGNING_CONSENT_VERSION", "2026-01")
CONTRACTS_FROM_EMAIL = env_str("CONTRACTS_FROM_EMAIL", f"{PORTAL_BRAND} Contracts <contracts@example.com>")
STAFF_NOTIFICATION_EMAIL = env_str("STAFF_NOTIFICATION_EMAIL", "")
SIGNING_CODE_VALID_FOR = env_duration("SIGNING_CODE_VALID_FOR", "10m")
SEAL_PKCS12_PATH = env_str("SEAL_PKCS12_PATH", "")
SEAL_PKCS12_PASSWORD = env_str("SEAL_PKCS12_PASSWORD", "")
SEAL_ALLOW_DEV_CERT = env_bool("SEAL_ALLOW_DEV_CERT", False)
SEAL_TRUSTED_CERTS = [p for p in env_str("SEAL_TRUSTED_CERTS", "").split(",") if p.strip()]
SEAL_TSA_URL = env_str("SEAL_TSA_URL", "")
VERIFY_MAX_UPLOAD = 20 * 1024 * 1024

# Provisioning.
SIMULATED_DELAY_SECONDS = float(env_str("SIMULATED_DELAY_SECONDS", "0"))
SIMULATED_FAILURES = dict(item.split(":", 1) for item in env_str("SIMULATED_FAILURES", "").split(",") if ":" in item)
PROVISIONING_MAX_ATTEMPTS = int(env_str("PROVISIONING_MAX_ATTEMPTS", "8"))
PROVISIONING_CULTURE = env_str("PROVISIONING_CULTURE", "en-US")
PROVISIONING_LANGUAGE = env_str("PROVISIONING_LANGUAGE", "en")
ACTIVATION_LINK_EXPIRES_AFTER = env_duration("ACTIVATION_LINK_EXPIRES_AFTER", "7d")
MFA_ENROLMENT_LINK_EXPIRES_AFTER = env_duration("MFA_ENROLMENT_LINK_EXPIRES_AFTER", "1d")
PASSWORD_RESET_LINK_EXPIRES_AFTER = env_duration("PASSWORD_RESET_LINK_EXPIRES_AFTER", "1h")
INVITATION_EXPIRES_AFTER = env_duration("INVITATION_EXPIRES_AFTER", "7d")
PARTNER_CENTER_API_URL = env_str("PARTNER_CENTER_API_URL", "https://api.partnercenter.microsoft.com")
PARTNER_CENTER_PRICES_URL = env_str("PARTNER_CENTER_PRICES_URL", "https://api.partner.microsoft.com")
PARTNER_CENTER_TENANT_ID = env_str("PARTNER_CENTER_TENANT_ID", "")
PARTNER_CENTER_TOKEN_URL = env_str(
    "PARTNER_CENTER_TOKEN_URL", "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
)
PARTNER_CENTER_CLIENT_ID = env_str("PARTNER_CENTER_CLIENT_ID", "")
PARTNER_CENTER_CLIENT_SECRET = env_str("PARTNER_CENTER_CLIENT_SECRET", "")
PARTNER_CENTER_REFRESH_TOKEN = env_str("PARTNER_CENTER_REFRESH_TOKEN", "")
PARTNER_CENTER_TIMEOUT = float(env_str("PARTNER_CENTER_TIMEOUT", "20"))
PARTNER_CENTER_MAX_RETRIES = int(env_str("PARTNER_CENTER_MAX_RETRIES", "4"))
PARTNER_CENTER_MAX_WAIT = float(env_str("PARTNER_CENTER_MAX_WAIT", "60"))

# The catalogue: read from the provisioner every day at CATALOG_SYNC_AT (HH:MM, TIME_ZONE), for this country.
CATALOG_COUNTRY = env_str("CATALOG_COUNTRY", "BE").upper()
CATALOG_SYNC_AT = env_str("CATALOG_SYNC_AT", "03:00")
_sync_hour, _, _sync_minute = CATALOG_SYNC_AT.partition(":")
if not (_sync_hour.isdigit() and _sync_minute.isdigit() and int(_sync_hour) < 24 and int(_sync_minute) < 60):
    raise ImproperlyConfigured(f"CATALOG_SYNC_AT must be a time of day as HH:MM, not {CATALOG_SYNC_AT!r}.")
# Prices: Microsoft's licence-based price sheet of one market, in the partner's currency (portal.pricing).
PRICE_SHEET_MARKET = env_str("PRICE_SHEET_MARKET", "BE")
PRICE_CURRENCY = env_str("PRICE_CURRENCY", "EUR")
