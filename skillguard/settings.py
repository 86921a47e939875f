"""SkillGuard settings: everything from the environment, with safe defaults.

Environment variables (see docs/operations.md):
  DATABASE_URL            external PostgreSQL 15+; unset → embedded cluster in the data dir
  SKILLGUARD_DATA_DIR     where the embedded database, keys, uploads live (default ./var)
  SKILLGUARD_SECRET_KEY   Django secret; unset → generated once into the data dir
  SKILLGUARD_FIELD_KEYS   personal-data encryption keys "id:base64,..." (last = current)
  SKILLGUARD_LOOKUP_KEY   base64 HMAC key for exact lookups of encrypted fields
  SKILLGUARD_ALLOWED_HOSTS comma list (default localhost,127.0.0.1,[::1],testserver)
  SKILLGUARD_DEBUG        1 to enable Django debug pages (never in production)
  SKILLGUARD_SECURE       1 behind HTTPS: secure cookies, HSTS
  SKILLGUARD_TRUST_PROXY  1 behind our reverse proxy: take the client IP from X-Real-IP
  SKILLGUARD_SECRET_KEY_FALLBACKS  comma list of previous secret keys during rotation
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SKILLGUARD_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def _secret_from_data_dir(name: str, make) -> str:
    path = DATA_DIR / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(make())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: two processes starting at once agree on one key
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SKILLGUARD_SECRET_KEY") or _secret_from_data_dir(
    "django-secret", lambda: secrets.token_urlsafe(50))
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("SKILLGUARD_SECRET_KEY_FALLBACKS", "")
                        .split(",") if k]  # old keys kept valid while sessions roll over
DEBUG = _env_flag("SKILLGUARD_DEBUG")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get(
    "SKILLGUARD_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("SKILLGUARD_CSRF_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "procrastinate.contrib.django",
    "skillguard.core",
    "skillguard.accounts",
    "skillguard.audit",
    "skillguard.registry",
    "skillguard.ingest",
    "skillguard.trust",
    "skillguard.distribution",
    "skillguard.attendance",
    "skillguard.learning",
    "skillguard.subsidies",
    "skillguard.supervision",
    "skillguard.cases",
    "skillguard.cameras",
    "skillguard.video",
    "skillguard.cockpit",
    "skillguard.reports",
    "skillguard.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "skillguard.ingest.middleware.BatchUploadSizeMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "skillguard.audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "skillguard.urls"
WSGI_APPLICATION = "skillguard.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "django.template.context_processors.i18n",
        "skillguard.core.context_processors.navigation",
    ]},
}]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        import dj_database_url

        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    from skillguard import dbserver

    return dbserver.start(DATA_DIR).django_settings()


DATABASES = {"default": _database()}
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
    "SKILLGUARD_TEST_DB", "test_" + DATABASES["default"]["NAME"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
# Modules whose import registers supervision rules (supervision.rules.base.register); a
# deployment adds its own rules by appending a module path here — the engine is untouched.
SUPERVISION_RULE_MODULES = [
    "skillguard.supervision.rules.catalogue",
    *[m for m in os.environ.get("SKILLGUARD_EXTRA_RULE_MODULES", "").split(",") if m],
]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic target; WhiteNoise serves from finders too
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # serve straight from the package; collectstatic optional
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = False  # HTMX reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if _env_flag("SKILLGUARD_SECURE"):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Personal data: AES-256-GCM, keys "id:base64" (the last one encrypts; all decrypt).
FIELD_ENCRYPTION_KEYS = os.environ.get("SKILLGUARD_FIELD_KEYS") or _secret_from_data_dir(
    "field-keys", lambda: "k1:" + __import__("base64").b64encode(secrets.token_bytes(32)).decode())
LOOKUP_HASH_KEY = os.environ.get("SKILLGUARD_LOOKUP_KEY") or _secret_from_data_dir(
    "lookup-key", lambda: __import__("base64").b64encode(secrets.token_bytes(32)).decode())


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SKILLGUARD_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SKILLGUARD_REQUIRE_ALL = _env_flag("SKILLGUARD_REQUIRE_ALL")
SKILLGUARD_TRUST_PROXY = _env_flag("SKILLGUARD_TRUST_PROXY")  # believe X-Real-IP from our proxy
# Webhooks go to subscribers' public endpoints; loopback, private, link-local and reserved
# addresses are refused (a subscriber must not make the server call its own network) unless
# a deployment whose district systems sit on a private network allows them.
SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = _env_flag("SKILLGUARD_WEBHOOK_ALLOW_PRIVATE")

# Video supervision (issue 5): media server and live HLS (ingest). The media server's
# callbacks carry MEDIA_HOOK_SECRET in their URL (generated once into the data dir).
VIDEO_ROOT = Path(os.environ.get("SKILLGUARD_VIDEO_ROOT", DATA_DIR / "video")).resolve()
MEDIA_SERVER = os.environ.get("SKILLGUARD_MEDIA_SERVER", "nginx-rtmp")
RTMP_PORT = int(os.environ.get("SKILLGUARD_RTMP_PORT", "1935"))
RTMP_PUBLIC_HOST = os.environ.get("SKILLGUARD_RTMP_HOST", "127.0.0.1")  # in publish URLs
MEDIA_STAT_PORT = int(os.environ.get("SKILLGUARD_MEDIA_STAT_PORT", "18935"))  # localhost only
NGINX_BINARY = os.environ.get("SKILLGUARD_NGINX", "/usr/sbin/nginx")
NGINX_RTMP_MODULE = os.environ.get("SKILLGUARD_NGINX_RTMP_MODULE",
                                   "/usr/lib/nginx/modules/ngx_rtmp_module.so")
FFMPEG_BINARY = os.environ.get("SKILLGUARD_FFMPEG", "ffmpeg")
MEDIA_HOOK_SECRET = os.environ.get("SKILLGUARD_MEDIA_HOOK_SECRET") or _secret_from_data_dir(
    "media-hook-secret", lambda: secrets.token_urlsafe(32))
CAMERA_HEARTBEAT_TIMEOUT_S = int(os.environ.get("SKILLGUARD_CAMERA_HEARTBEAT_TIMEOUT", "45"))
CAMERA_SNAPSHOT_EVERY_S = int(os.environ.get("SKILLGUARD_CAMERA_SNAPSHOT_EVERY", "300"))
# Video playback and clips (viewer): the longest range one playback or one clip may span.
FFPROBE_BINARY = os.environ.get("SKILLGUARD_FFPROBE", "ffprobe")
VIDEO_PLAYBACK_MAX_HOURS = int(os.environ.get("SKILLGUARD_VIDEO_PLAYBACK_MAX_HOURS", "12"))
VIDEO_CLIP_MAX_MINUTES = int(os.environ.get("SKILLGUARD_VIDEO_CLIP_MAX_MINUTES", "120"))
# Recording (recorder): storage tiers, segment length, retention, margins, free-space floor.
VIDEO_STORAGE = os.environ.get("SKILLGUARD_VIDEO_STORAGE", "local")  # video.storage.BACKENDS
# Unset: <VIDEO_ROOT>/online and <VIDEO_ROOT>/archive (the archive: cheaper disks, a mount).
VIDEO_ONLINE_ROOT = os.environ.get("SKILLGUARD_VIDEO_ONLINE_ROOT") or None
VIDEO_ARCHIVE_ROOT = os.environ.get("SKILLGUARD_VIDEO_ARCHIVE_ROOT") or None
VIDEO_SEGMENT_SECONDS = int(os.environ.get("SKILLGUARD_VIDEO_SEGMENT_SECONDS", "60"))
VIDEO_ONLINE_DAYS = int(os.environ.get("SKILLGUARD_VIDEO_ONLINE_DAYS", "90"))
VIDEO_ARCHIVE_YEARS = int(os.environ.get("SKILLGUARD_VIDEO_ARCHIVE_YEARS", "5"))
VIDEO_RECORD_BEFORE_MIN = int(os.environ.get("SKILLGUARD_VIDEO_RECORD_BEFORE_MIN", "10"))
VIDEO_RECORD_AFTER_MIN = int(os.environ.get("SKILLGUARD_VIDEO_RECORD_AFTER_MIN", "10"))
VIDEO_MIN_FREE_MB = int(os.environ.get("SKILLGUARD_VIDEO_MIN_FREE_MB", "2048"))
