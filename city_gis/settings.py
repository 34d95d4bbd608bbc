"""Django settings for CityGIS, read from the environment with safe demo defaults.

Environment: DATABASE_URL, CITYGIS_VAR_DIR, SECRET_KEY, DEBUG, ALLOWED_HOSTS, CITYGIS_DEMO_PASSWORD,
CITYGIS_PRODUCTION (1 turns on HTTPS-only cookies, HSTS and friends for `check --deploy`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


VAR_DIR = Path(os.environ.get("CITYGIS_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random one kept in var/ (never in the repository)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret-key.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
PRODUCTION = env_bool("CITYGIS_PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "leaflet",
    "axes",
    "city_gis.accounts",
    "layers",
    "city_gis.grid",
    "city_gis.cases",
    "city_gis.evaluation",
    "city_gis.hazards",
    "city_gis.review",
    "tileserver",
    "field_app_api",
    "frontend",
    "data",
]

MIDDLEWARE = [
    "city_gis.requestlog.RequestIdMiddleware",  # X-Request-ID on the response and on every log record
    "city_gis.metrics.MetricsMiddleware",  # Prometheus request count/latency per route (city_gis/metrics.py)
    "django.middleware.security.SecurityMiddleware",
    "city_gis.security.middleware.DatabaseOutageMiddleware",  # lost database → 503 + Retry-After
    "city_gis.dbrouting.ReplicaReadsMiddleware",  # GET/HEAD of map, feature and catalogue paths read the replica
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "city_gis.urls"
WSGI_APPLICATION = "city_gis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgis:///citygis"), conn_max_age=60, conn_health_checks=True
    )
}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Parallel test runs on one server need distinct test databases.
if os.environ.get("CITYGIS_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["CITYGIS_TEST_DB_NAME"]}
# A streaming standby for the read-heavy paths (city_gis/dbrouting.py, docs/deployment.md "Read replica").
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["city_gis.dbrouting.ReadReplicaRouter"]
# Behind pgBouncer in transaction pooling (scripts/cluster.sh): no server-side cursors, they outlive a transaction.
if os.environ.get("CITYGIS_DB_POOLER") == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 80 * 1024 * 1024

# Storage CRS of every vector layer and the metric CRS for areas, buffers and grid cells.
CITYGIS_STORAGE_SRID = 4490
CITYGIS_METRIC_SRID = 4544
# digits of the sequence part of a unit grid cell code (community code + sequence)
CITYGIS_CELL_SEQ_WIDTH = int(os.environ.get("CITYGIS_CELL_SEQ_WIDTH", 2))
CITYGIS_OGC_SRS = ["EPSG:4490", "EPSG:4544", "EPSG:4326", "EPSG:3857"]
CITYGIS_IMPORT_MAX_BYTES = int(os.environ.get("CITYGIS_IMPORT_MAX_BYTES", 512 * 1024 * 1024))
# Import archives (layers.formats): entries, total unzipped bytes, compression ratio, all checked before extraction.
CITYGIS_IMPORT_MAX_ZIP_ENTRIES = int(os.environ.get("CITYGIS_IMPORT_MAX_ZIP_ENTRIES", 50))
CITYGIS_IMPORT_MAX_UNZIPPED_BYTES = int(os.environ.get("CITYGIS_IMPORT_MAX_UNZIPPED_BYTES", 1024 ** 3))
CITYGIS_IMPORT_MAX_ZIP_RATIO = int(os.environ.get("CITYGIS_IMPORT_MAX_ZIP_RATIO", 200))
# Text from imports (layers.validation): longest attribute text value, longest layer abstract (characters).
CITYGIS_IMPORT_MAX_VALUE_CHARS = int(os.environ.get("CITYGIS_IMPORT_MAX_VALUE_CHARS", 10_000))
CITYGIS_LAYER_ABSTRACT_MAX_CHARS = int(os.environ.get("CITYGIS_LAYER_ABSTRACT_MAX_CHARS", 4000))
# Most features one export may hold (layers.exporter); beyond it the client narrows with bbox.
CITYGIS_EXPORT_MAX_FEATURES = int(os.environ.get("CITYGIS_EXPORT_MAX_FEATURES", 200_000))
CITYGIS_DEMO_PASSWORD = os.environ.get("CITYGIS_DEMO_PASSWORD", "")
# Department code owning the domain's own layers (cases.*, grid.*, evaluation.*), registered after migrate.
CITYGIS_DOMAIN_LAYER_OWNER = os.environ.get("CITYGIS_DOMAIN_LAYER_OWNER", "urban").strip()
# Department codes (comma-separated) whose users may publish base.* layers into the shared base map.
CITYGIS_BASEMAP_DEPARTMENTS = [c.strip() for c in os.environ.get("CITYGIS_BASEMAP_DEPARTMENTS", "survey").split(",")
                               if c.strip()]
# Features API paging bounds: largest page (`limit`) and largest `offset` accepted (400 beyond).
CITYGIS_FEATURES_MAX_LIMIT = int(os.environ.get("CITYGIS_FEATURES_MAX_LIMIT", 1000))
CITYGIS_FEATURES_MAX_OFFSET = int(os.environ.get("CITYGIS_FEATURES_MAX_OFFSET", 10_000_000))
CITYGIS_MAPFILE_DIR = VAR_DIR / "mapserver"
CITYGIS_MAPPROXY_DIR = VAR_DIR / "mapproxy"
CITYGIS_TILE_CACHE_DIR = VAR_DIR / "tilecache"
# Shared tile cache for several app nodes (tileserver/tilestore.py): redis://host:port/db; unset: the file cache.
CITYGIS_TILE_CACHE_REDIS_URL = os.environ.get("CITYGIS_TILE_CACHE_REDIS_URL", "")
# Behind nginx: prefix of an `internal;` location aliased to CITYGIS_TILE_CACHE_DIR (e.g. /_citygis_tilecache/); a
# cached tile is then answered with X-Accel-Redirect after our authorisation (tileserver/tilehits.py). Empty: off.
CITYGIS_TILE_ACCEL_REDIRECT = os.environ.get("CITYGIS_TILE_ACCEL_REDIRECT", "").strip()
# Seconds between a process's checks that its generated configuration matches the registry (tileserver/freshness.py).
CITYGIS_CONFIG_CHECK_SECONDS = float(os.environ.get("CITYGIS_CONFIG_CHECK_SECONDS") or 2)
# How MapProxy runs MapServer (tileserver/renderer.py): "cgi" spawns mapserv per render; "fastcgi" hands renders to
# the persistent pool `citygis renderer` keeps alive (make run, make cluster), CITYGIS_RENDERER_PROCESSES strong.
CITYGIS_RENDERER = os.environ.get("CITYGIS_RENDERER") or "cgi"
CITYGIS_RENDERER_PROCESSES = int(os.environ.get("CITYGIS_RENDERER_PROCESSES") or 4)

# OGC/tile cost limits (tileserver/limits.py; docs/security.md)
# Largest WMS image (width × height pixels) for anonymous clients and for signed-in users.
CITYGIS_OGC_MAX_PIXELS_ANON = int(os.environ.get("CITYGIS_OGC_MAX_PIXELS_ANON", 1024 * 1024))
CITYGIS_OGC_MAX_PIXELS = int(os.environ.get("CITYGIS_OGC_MAX_PIXELS", 4096 * 4096))
# Renders (uncached tiles, GetMap, GetFeatureInfo, legends) running at once per process; beyond: 503.
CITYGIS_RENDER_CONCURRENCY = int(os.environ.get("CITYGIS_RENDER_CONCURRENCY", 2))
# Seconds a request waits for a free render slot before it is answered 503 + Retry-After. A map page asks for
# ~20 tiles at once and MapProxy renders them as shared meta tiles: they queue here, they are not refused.
CITYGIS_RENDER_WAIT = float(os.environ.get("CITYGIS_RENDER_WAIT", 20))
# Seconds one mapserv process may run before it is killed (the generated mapserv wrapper).
CITYGIS_MAPSERV_TIMEOUT = int(os.environ.get("CITYGIS_MAPSERV_TIMEOUT", 30))
# OGC/tile requests per client ("N/s|min|hour|day"; anonymous by client IP, users by id); beyond: 429.
CITYGIS_OGC_RATE_ANON = os.environ.get("CITYGIS_OGC_RATE_ANON", "600/min")
CITYGIS_OGC_RATE_USER = os.environ.get("CITYGIS_OGC_RATE_USER", "6000/min")
# OGC API – Features bounds (tileserver/ogcapi, docs/ogcapi.md): page size (default, largest — a larger `limit`
# is clamped, as Part 1 permits), largest offset, filter length, milliseconds per SQL statement.
CITYGIS_OGCAPI_DEFAULT_LIMIT = int(os.environ.get("CITYGIS_OGCAPI_DEFAULT_LIMIT") or 100)
CITYGIS_OGCAPI_MAX_LIMIT = int(os.environ.get("CITYGIS_OGCAPI_MAX_LIMIT") or 10_000)
CITYGIS_OGCAPI_MAX_OFFSET = int(os.environ.get("CITYGIS_OGCAPI_MAX_OFFSET") or 10_000_000)
CITYGIS_OGCAPI_MAX_FILTER_CHARS = int(os.environ.get("CITYGIS_OGCAPI_MAX_FILTER_CHARS") or 20_000)
CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS = int(os.environ.get("CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS") or 15_000)
# CSW bounds (tileserver/csw, docs/csw.md): records per page, POST body bytes, ids per GetRecordById.
CITYGIS_CSW_MAX_RECORDS = int(os.environ.get("CITYGIS_CSW_MAX_RECORDS") or 100)
CITYGIS_CSW_MAX_BODY = int(os.environ.get("CITYGIS_CSW_MAX_BODY") or 64 * 1024)
CITYGIS_CSW_MAX_IDS = int(os.environ.get("CITYGIS_CSW_MAX_IDS") or 100)
# WFS (tileserver/wfs.py): most features per GetFeature page (larger COUNT is lowered), largest response in bytes.
CITYGIS_WFS_MAX_FEATURES = int(os.environ.get("CITYGIS_WFS_MAX_FEATURES", 10_000))
CITYGIS_WFS_MAX_BYTES = int(os.environ.get("CITYGIS_WFS_MAX_BYTES", 100 * 1024 * 1024))
# WFS-T (tileserver/wfst.py, docs/wfs.md): largest Transaction body in bytes (413), most features one Transaction
# inserts + updates + deletes (400; never above layers.versions.MAX_EDITS, the edit session's own bound).
CITYGIS_WFST_MAX_BODY = int(os.environ.get("CITYGIS_WFST_MAX_BODY") or 8 * 1024 * 1024)
CITYGIS_WFST_MAX_FEATURES = int(os.environ.get("CITYGIS_WFST_MAX_FEATURES") or 1000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # No BasicAuthentication here: browsers replay the /ows Basic challenge cross-site and DRF's Basic
        # skips CSRF. Basic belongs to the OGC endpoints only (tileserver/auth.py).
        "city_gis.security.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "city_gis.api_pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": [
        # Our subclasses key anonymous clients on city_gis.security.clientip.client_ip (trusted proxies only).
        "field_app_api.throttles.AnonRateThrottle",
        "field_app_api.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("CITYGIS_THROTTLE_ANON", "120/min"),
        "user": os.environ.get("CITYGIS_THROTTLE_USER", "100000/hour"),
        # Login attempts per client address (axes additionally locks a username+address after failures).
        "token": os.environ.get("CITYGIS_THROTTLE_TOKEN", "30/min"),
        # Reports per inspector: a phone flushing its offline queue sends bursts, so this is generous.
        "reports": os.environ.get("CITYGIS_THROTTLE_REPORTS", "600/min"),
        # Open311 writes per API key / address.
        "open311_post": os.environ.get("CITYGIS_THROTTLE_OPEN311_POST", "60/min"),
    },
    # A database outage (connection lost) answers 503 + Retry-After instead of 500.
    "EXCEPTION_HANDLER": "city_gis.security.middleware.api_exception_handler",
}

# Proxies whose X-Forwarded-For we believe (comma-separated IPs/CIDRs); empty = trust none, key on REMOTE_ADDR.
CITYGIS_TRUSTED_PROXIES = [p.strip() for p in os.environ.get("CITYGIS_TRUSTED_PROXIES", "").split(",") if p.strip()]
# API token lifetime in hours (sliding: each use after half the lifetime renews it); 0 = never expire.
CITYGIS_TOKEN_TTL_HOURS = float(os.environ.get("CITYGIS_TOKEN_TTL_HOURS", 7 * 24))
# Health/metrics (city_gis/health.py, city_gis/metrics.py; docs/deployment.md "Health checks, metrics, request ids").
# /readyz: statement_timeout of its SELECT 1 (ms), least free MiB in CITYGIS_VAR_DIR, seconds a `mapserv -v`
# result is reused, Retry-After of its 503.
CITYGIS_READY_DB_TIMEOUT_MS = int(os.environ.get("CITYGIS_READY_DB_TIMEOUT_MS", 1000))
CITYGIS_READY_MIN_FREE_MB = int(os.environ.get("CITYGIS_READY_MIN_FREE_MB", 500))
CITYGIS_READY_RENDERER_CACHE_SECONDS = float(os.environ.get("CITYGIS_READY_RENDERER_CACHE_SECONDS", 30))
CITYGIS_READY_RETRY_AFTER = int(os.environ.get("CITYGIS_READY_RETRY_AFTER", 10))
# Addresses (comma-separated IPs/CIDRs, judged by clientip.client_ip) allowed to scrape /metrics; others get 403.
CITYGIS_METRICS_ALLOWED = [a.strip() for a in os.environ.get("CITYGIS_METRICS_ALLOWED", "127.0.0.1,::1").split(",")
                           if a.strip()]
# Seconds a new database connection may take (libpq connect_timeout): an unreachable host fails fast.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", int(os.environ.get("CITYGIS_DB_CONNECT_TIMEOUT", 5)))
# Seconds a client should wait before retrying when the database is unreachable (503 Retry-After).
CITYGIS_DB_OUTAGE_RETRY_AFTER = int(os.environ.get("CITYGIS_DB_OUTAGE_RETRY_AFTER", 5))
# Largest ?limit= of any REST list (more → 400 naming `limit`); largest ?offset= (city_gis/api_pagination.py).
CITYGIS_API_MAX_PAGE_SIZE = int(os.environ.get("CITYGIS_API_MAX_PAGE_SIZE", 500))
CITYGIS_API_MAX_OFFSET = int(os.environ.get("CITYGIS_API_MAX_OFFSET", 1_000_000))
# Largest JSON/form body of the case, field-report, task and Open311 endpoints (413 above; city_gis/api_parsers.py).
CITYGIS_API_BODY_MAX_BYTES = int(os.environ.get("CITYGIS_API_BODY_MAX_BYTES", 1024 * 1024))
# Photos: bytes per photo, photos per report/task, pixels per photo checked from the header before decoding.
CITYGIS_PHOTO_MAX_BYTES = int(os.environ.get("CITYGIS_PHOTO_MAX_BYTES", 10 * 1024 * 1024))
CITYGIS_PHOTO_MAX_COUNT = int(os.environ.get("CITYGIS_PHOTO_MAX_COUNT", 6))
CITYGIS_PHOTO_MAX_PIXELS = int(os.environ.get("CITYGIS_PHOTO_MAX_PIXELS", 40_000_000))

# Urban-management rules, read here only (the modules read django.conf.settings at call time, never os.environ;
# an empty variable means the default):
# daily working periods of the working calendar (city_gis/cases/calendar.py), "HH:MM-HH:MM,…"
CITYGIS_WORKING_HOURS = os.environ.get("CITYGIS_WORKING_HOURS") or "08:30-12:00,14:00-17:30"
# a new case within this many metres and hours of an open case of the same small class is flagged a duplicate
CITYGIS_DUPLICATE_RADIUS_M = float(os.environ.get("CITYGIS_DUPLICATE_RADIUS_M") or 50)
# months of the case history's monthly partitions created ahead (`citygis case_history_partitions`, run by setup)
CITYGIS_CASE_HISTORY_PARTITIONS_AHEAD = int(os.environ.get("CITYGIS_CASE_HISTORY_PARTITIONS_AHEAD") or 12)
CITYGIS_DUPLICATE_WINDOW_HOURS = float(os.environ.get("CITYGIS_DUPLICATE_WINDOW_HOURS") or 72)
# a case's address names the nearest road when it lies within this many metres (city_gis/grid/geocode.py)
CITYGIS_ADDRESS_ROAD_RADIUS_M = float(os.environ.get("CITYGIS_ADDRESS_ROAD_RADIUS_M") or 200)
# evaluation weights/grades file; empty = the packaged city_gis/evaluation/data/evaluation.yaml
CITYGIS_EVALUATION_CONFIG = os.environ.get("CITYGIS_EVALUATION_CONFIG", "")
# Geohazard monitoring (city_gis/hazards; docs/hazards.md): broker, topic prefix, consumer session, limits.
CITYGIS_MQTT_URL = os.environ.get("CITYGIS_MQTT_URL") or "mqtt://127.0.0.1:1883"
CITYGIS_MQTT_TOPIC_PREFIX = os.environ.get("CITYGIS_MQTT_TOPIC_PREFIX") or "citygis/devices/"
# fixed client id + persistent session: QoS-1 readings published while the consumer is away are kept for it
CITYGIS_MQTT_CLIENT_ID = os.environ.get("CITYGIS_MQTT_CLIENT_ID") or "citygis-hazard-consumer"
CITYGIS_MQTT_SESSION_EXPIRY_S = int(os.environ.get("CITYGIS_MQTT_SESSION_EXPIRY_S") or 7 * 24 * 3600)
CITYGIS_MQTT_RECEIVE_MAXIMUM = int(os.environ.get("CITYGIS_MQTT_RECEIVE_MAXIMUM") or 2000)
# readings stored per consumer transaction, and the longest wait (s) to fill a batch
CITYGIS_HAZARD_BATCH_SIZE = int(os.environ.get("CITYGIS_HAZARD_BATCH_SIZE") or 1000)
CITYGIS_HAZARD_BATCH_WAIT_S = float(os.environ.get("CITYGIS_HAZARD_BATCH_WAIT_S") or 0.2)
# months of readings kept (older partitions dropped by `citygis hazard_partitions`); months created ahead
CITYGIS_HAZARD_RETENTION_MONTHS = int(os.environ.get("CITYGIS_HAZARD_RETENTION_MONTHS") or 24)
CITYGIS_HAZARD_PARTITIONS_AHEAD = int(os.environ.get("CITYGIS_HAZARD_PARTITIONS_AHEAD") or 2)
# largest reading payload (bytes), readings per HTTP batch, seconds observed_at may lie in the future
CITYGIS_HAZARD_MAX_PAYLOAD_BYTES = int(os.environ.get("CITYGIS_HAZARD_MAX_PAYLOAD_BYTES") or 4096)
CITYGIS_HAZARD_MAX_BATCH = int(os.environ.get("CITYGIS_HAZARD_MAX_BATCH") or 1000)
CITYGIS_HAZARD_FUTURE_TOLERANCE_S = int(os.environ.get("CITYGIS_HAZARD_FUTURE_TOLERANCE_S") or 300)
# alert rules file; empty = the packaged city_gis/hazards/data/alert_rules.json
CITYGIS_HAZARD_RULES = os.environ.get("CITYGIS_HAZARD_RULES", "")
# seconds between the consumer's offline/all-clear checks
CITYGIS_HAZARD_CHECK_INTERVAL_S = float(os.environ.get("CITYGIS_HAZARD_CHECK_INTERVAL_S") or 60)
# Planning review bounds and files (city_gis/review; docs/review.md): redline vertices, area (km², EPSG:4544),
# polygons, upload bytes, conflicting features listed per rule, ms per SQL statement; the rule set and PDF font
# (empty: the packaged rule set, the first CJK TrueType font found).
CITYGIS_REVIEW_MAX_VERTICES = int(os.environ.get("CITYGIS_REVIEW_MAX_VERTICES") or 10_000)
CITYGIS_REVIEW_MAX_AREA_KM2 = float(os.environ.get("CITYGIS_REVIEW_MAX_AREA_KM2") or 100)
CITYGIS_REVIEW_MAX_PARTS = int(os.environ.get("CITYGIS_REVIEW_MAX_PARTS") or 100)
CITYGIS_REVIEW_MAX_UPLOAD_BYTES = int(os.environ.get("CITYGIS_REVIEW_MAX_UPLOAD_BYTES") or 5 * 1024 * 1024)
CITYGIS_REVIEW_MAX_FEATURES = int(os.environ.get("CITYGIS_REVIEW_MAX_FEATURES") or 500)
CITYGIS_REVIEW_STATEMENT_TIMEOUT_MS = int(os.environ.get("CITYGIS_REVIEW_STATEMENT_TIMEOUT_MS") or 20_000)
CITYGIS_REVIEW_RULESET = os.environ.get("CITYGIS_REVIEW_RULESET", "")
CITYGIS_REVIEW_FONT = os.environ.get("CITYGIS_REVIEW_FONT", "")
# Background jobs (layers/jobs.py; docs/jobs.md): a silent worker's job is re-queued after its lease (s); runs of a
# job whose worker died before it is failed; uploads above this many bytes are imported as a job.
CITYGIS_JOBS_LEASE_SECONDS = float(os.environ.get("CITYGIS_JOBS_LEASE_SECONDS") or 120)
CITYGIS_JOBS_MAX_ATTEMPTS = int(os.environ.get("CITYGIS_JOBS_MAX_ATTEMPTS") or 3)
CITYGIS_IMPORT_ASYNC_BYTES = int(os.environ.get("CITYGIS_IMPORT_ASYNC_BYTES") or 16 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "CityGIS API",
    "DESCRIPTION": "CityGIS REST API: layer catalog, urban-management cases, field reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name "source": every case source, and the two an operator may enter.
    "ENUM_NAME_OVERRIDES": {
        "CaseSourceEnum": "city_gis.cases.models.Source",
        "CaseIntakeSourceEnum": ["hotline", "public"],
        # …and "state": a case's workflow state, a component's condition, a background job's state.
        "CaseStateEnum": "city_gis.cases.models.State",
        "ComponentStateEnum": "city_gis.grid.models.ComponentState",
        "JobStateEnum": "layers.models.versions.JobState",
    },
}
# Every operation documents the common error answers (400/401/403/404/429/503) it lacks (city_gis/api_schema.py).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "city_gis.api_schema.document_error_answers",
]

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
    }
    if os.environ.get("REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

AXES_FAILURE_LIMIT = int(os.environ.get("CITYGIS_LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_ENABLED = env_bool("CITYGIS_AXES_ENABLED", True)
# Lockouts key on the same trusted-proxy-aware address as every throttle (not a client-sent header).
AXES_CLIENT_IP_CALLABLE = "city_gis.security.clientip.axes_client_ip"

LEAFLET_CONFIG = {
    # No external tile service: the base map is our own tileserver.
    "TILES": [("底图", "/tiles/base.basemap/webmercator/{z}/{x}/{y}.png", {"attribution": "CityGIS 六盘水", "maxZoom": 19})],
    "DEFAULT_CENTER": (26.5935, 104.8305),
    "DEFAULT_ZOOM": 12,
    "MIN_ZOOM": 3,
    "MAX_ZOOM": 19,
    "RESET_VIEW": False,
    "SRID": 3857,
    "ATTRIBUTION_PREFIX": "CityGIS",
}

# gis.W001: Debian 12's GDAL 3.6 is older than Django 5.2's recommended 3.9; every feature we use works.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    DEBUG = False
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Load balancers and scrapers probe the node over plain HTTP: no redirect (nothing secret is served there).
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tokens, passwords and Authorization headers never reach a log line.
    # Every record carries the request id (city_gis/requestlog.py); LOG_FORMAT=json writes one JSON object a line.
    "filters": {"redact_secrets": {"()": "city_gis.security.logfilters.RedactSecretsFilter"},
                "request_id": {"()": "city_gis.requestlog.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "city_gis.requestlog.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets", "request_id"],
                             "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "text"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
