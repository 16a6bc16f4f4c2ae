"""Settings of the integration portal, read from the environment (see README "Configuration").

Every variable goes through a helper of :mod:`base.env` that raises ImproperlyConfigured on a bad value.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from base.env import database_config, envbool, envint, envlist, envstr, load_env_file, redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
# Optional KEY=VALUE defaults for unset variables (make demo writes var/portal.env; PORTAL_ENV_FILE="" disables it).
_ENV_FILE = os.environ.get("PORTAL_ENV_FILE", str(VAR_DIR / "portal.env"))
if _ENV_FILE:
    load_env_file(Path(_ENV_FILE))

DEBUG = envbool("DEBUG", False)


def _development_secrets() -> dict[str, str]:
    """Keys for a DEBUG run without configured keys, generated once and kept under var/ (never used in production)."""
    path = VAR_DIR / "development-keys.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    keys = {"SECRET_KEY": secrets.token_urlsafe(50), "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


SECRET_KEY = envstr("SECRET_KEY")
PORTAL_ENCRYPTION_KEY = envstr("PORTAL_ENCRYPTION_KEY")
if SECRET_KEY is None or PORTAL_ENCRYPTION_KEY is None:
    if not DEBUG:
        missing = [
            n for n, v in (("SECRET_KEY", SECRET_KEY), ("PORTAL_ENCRYPTION_KEY", PORTAL_ENCRYPTION_KEY)) if not v
        ]
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} must be set when DEBUG is off. Generate an encryption key with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    _dev = _development_secrets()
    SECRET_KEY = SECRET_KEY or _dev["SECRET_KEY"]
    PORTAL_ENCRYPTION_KEY = PORTAL_ENCRYPTION_KEY or _dev["PORTAL_ENCRYPTION_KEY"]

# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put the new key first).
for _key in PORTAL_ENCRYPTION_KEY.split(","):
    try:
        Fernet(_key.strip())
    except ValueError:
        raise ImproperlyConfigured(
            "PORTAL_ENCRYPTION_KEY must be one or more comma-separated Fernet keys (32 url-safe base64-encoded bytes)."
        ) from None

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names the portal answers to when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# Hosts on private, loopback or link-local addresses that outbound calls may reach (the emulators in the demo).
OUTBOUND_ALLOWED_HOSTS = envlist("OUTBOUND_ALLOWED_HOSTS")
# CA bundle trusted for outbound HTTPS besides the system store (the emulators' test CA in the demo and tests).
OUTBOUND_CA_BUNDLE = envstr("OUTBOUND_CA_BUNDLE")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "formtools",
    "django_rq",
    "axes",
    "csp",
    "auditlog",
    "portal",
    "connections",
    "mappings",
    "syncjobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # After authentication: records the signed-in user as the actor of every audited change.
    "auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.nostore.NoStoreForSignedInMiddleware",
    # Last, as django-axes asks ("Installation"): it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": database_config("DATABASE_URL", default_sqlite_path=VAR_DIR / "portal.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url("REDIS_URL", "redis://127.0.0.1:6390/0")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    "sync": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
}
RQ_SHOW_ADMIN_LINK = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes, "Configuration"): after AXES_FAILURE_LIMIT failed sign-ins in a row for one user
# name from one address, further tries are refused for AXES_COOLOFF_MINUTES; a successful sign-in resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 6, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a reverse proxy, the number of proxies in front of the portal (their X-Forwarded-For entries are trusted).
AXES_IPWARE_PROXY_COUNT = envint("AXES_IPWARE_PROXY_COUNT", 0, minimum=0) or None

# Content-Security-Policy (django-csp 4, "Configuring django-csp"): only the portal's own scripts and styles; forms
# may post to the portal and redirect to an https sign-in page (the administrator's Entra sign-in).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https:"],
    },
}

# Bearer token that lets a Prometheus server read /metrics without a session (unset: signed-in users only).
METRICS_TOKEN = envstr("METRICS_TOKEN")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Security settings for production (DEBUG off); `manage.py check --deploy` passes with them.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Preloading HSTS binds every subdomain of the operator's domain: their decision (SECURE_HSTS_PRELOAD), not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Seconds between runs of the job queue dispatcher (syncjobs.cron); 0 runs it every minute on the minute, as BC's
# job queue does. A shorter pace suits tests and demos that should not wait for minute boundaries.
JOB_QUEUE_DISPATCH_INTERVAL = envint("JOB_QUEUE_DISPATCH_INTERVAL", 0, minimum=0, maximum=3600)

# Mail of the alert rules (syncjobs.alerts): Django's SMTP backend with these settings; EMAIL_BACKEND may name
# another backend (e.g. django.core.mail.backends.console.EmailBackend for a demo). The password is read from the
# environment only and never shown.
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both (STARTTLS on port 587, or TLS on 465).")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "integration-portal@localhost")
# The portal's public address (https://portal.example.com), for links in alert e-mails and webhooks; blank: paths.
PORTAL_BASE_URL = envstr("PORTAL_BASE_URL", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
