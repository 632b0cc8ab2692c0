"""Settings from the environment (sitecycle.yml `env:`), nothing secret in the code.

DJANGO_SECRET_KEY   required
DATABASE_URL        required, e.g. postgresql://user:password@host:5432/name (dj-database-url)
DJANGO_ALLOWED_HOSTS  comma-separated host names
DJANGO_DEBUG        1 to turn debugging on (off by default)
DJANGO_STATIC_ROOT  where collectstatic writes; default `static/` in the virtualenv (the release)
"""

import os
import sys
from pathlib import Path

import dj_database_url

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guestbook",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.config(conn_max_age=600)}
if not DATABASES["default"]:
    raise RuntimeError("DATABASE_URL is not set, e.g. postgresql://user:password@host:5432/name")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic writes each file also under a name with its content hash (style.3f2a9c1b7d4e.css)
# and {% static %} links to that name: Apache sends hashed names with a year of immutable caching,
# so a release's CSS never mixes with the previous one's in a browser cache.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
STATIC_ROOT = Path(
    os.environ.get("DJANGO_STATIC_ROOT") or Path(os.environ.get("VIRTUAL_ENV", sys.prefix)) / "static"
)

# Uploads: the site's shared media folder (sitecycle.yml shared:), served by Apache at /media/.
MEDIA_URL = "media/"
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT", "")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
