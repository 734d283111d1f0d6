"""Settings of the SLS portal, read from the environment.

Defaults give a self-contained demo (SQLite, filesystem Celery broker, mail
written to files). With DEBUG off the site refuses to start without a real
SECRET_KEY and turns on every transport-security flag, so that
`manage.py check --deploy --fail-level WARNING` passes (SECURITY.md 22).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SLS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# Device seeds are encrypted with this key (ARCHITECTURE.md principle 4).
# Outside DEBUG it must be given on its own, so a leaked SECRET_KEY alone
# does not reveal the seeds.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY") or (SECRET_KEY if DEBUG else None)
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The portal's public address, for links sent to clients (password-reset
# e-mails): never the host an agent's browser used. Without it, outside
# DEBUG, the first ALLOWED_HOSTS name over HTTPS.
PORTAL_URL = (
    env_str("PORTAL_URL")
    or ("http://127.0.0.1:8000" if DEBUG else (f"https://{ALLOWED_HOSTS[0]}" if ALLOWED_HOSTS else ""))
).rstrip("/")
if not PORTAL_URL:
    raise ImproperlyConfigured("PORTAL_URL (or ALLOWED_HOSTS) must be set when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Ours, lowest layer first (docs/architecture.md, "Layers").
    "audit",
    "help",
    "accounts",
    "devices",
    "passcodes",
    "returns",
    "login",
    "agents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "login.headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before ours: they tell a client why the session ended.
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "login.middleware.SessionLifetimeMiddleware",
    "login.middleware.AccessScopeMiddleware",
    "accounts.middleware.ClientTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sls_portal.urls"
WSGI_APPLICATION = "sls_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "help.context_processors.sls",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Persistent connections: a login should not pay for a new one.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 binds parameters on the server and prepares a statement once
    # it ran twice on a connection, so the login's repeated statements are
    # parsed and planned once per connection, not at every login. Turn it
    # off (DATABASE_PREPARED_STATEMENTS=0) behind a pooler in transaction
    # mode older than PgBouncer 1.21.
    prepared = env_bool("DATABASE_PREPARED_STATEMENTS", True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": prepared, "prepare_threshold": 2 if prepared else None}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Concurrent writers (web + worker) wait for the lock instead of failing;
            # IMMEDIATE takes it at BEGIN, so a transaction never fails halfway on upgrade.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # WAL lets readers run beside the writer; NORMAL syncs at checkpoints,
            # which in WAL mode keeps the database consistent after a crash.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"

# Argon2id first (SECURITY.md 12); the others only verify legacy hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# SECURITY.md 12 (NIST 800-63B): length, no password like the username or
# derived from it, none from the common-passwords list, not digits alone;
# no composition rules.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "accounts.validators.ContainsUsernameValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# SECURITY.md 13: a reset link is single use (Django's token changes with the
# password) and expires within an hour.
PASSWORD_RESET_TIMEOUT = 60 * 60

# Sessions: idle timeout through a cookie age refreshed on each request,
# absolute lifetime checked by login.middleware (SECURITY.md 3).
SESSION_ENGINE = "login.sessions"
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "help.views.csrf_failure"

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Whether a request came over HTTPS is gunicorn's decision (wsgi.url_scheme):
# with BEHIND_TLS_PROXY=1 it believes X-Forwarded-Proto only from the peers in
# FORWARDED_ALLOW_IPS (sls_portal/gunicorn.conf.py). Django must not read the
# header itself (SECURE_PROXY_SSL_HEADER), which it would take from any peer.
SECURE_PROXY_SSL_HEADER = None

LANGUAGE_CODE = "en"
# The five languages of the help pages (seed/), each named in its own language.
LANGUAGES = [
    ("en", "English"),
    ("it", "Italiano"),
    ("es", "Español"),
    ("zh-hans", "简体中文"),
    ("ja", "日本語"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Secure Login System <no-reply@sls.example>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# Text messages (devices/sms.py): written to files by default, like e-mail.
SMS_BACKEND = env_str("SMS_BACKEND", "devices.sms.FileSmsBackend")
SMS_FILE_PATH = env_str("SMS_FILE_PATH", str(VAR_DIR / "sms"))

# Celery: the filesystem broker needs no server; production points
# CELERY_BROKER_URL at Redis.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "lift-expired-lockouts": {
        "task": "login.tasks.lift_expired_lockouts",
        "schedule": timedelta(minutes=5),
    },
    # login/retention.py: pending logins, sessions and attempts past their
    # retention (SLS below). Hourly keeps each run's backlog small.
    "prune-login-records": {
        "task": "login.tasks.prune_login_records",
        "schedule": timedelta(hours=1),
    },
    # devices/jobs.py (D3, J1): persist auto-activations, send the reminders
    # on the projected delivery date and the activation notices (outbox).
    "device-order-sweep": {
        "task": "devices.tasks.sweep_device_orders",
        "schedule": timedelta(minutes=10),
    },
    # passcodes/jobs.py (J1): passcodes full -> restricted -> expired, the
    # online cards' warnings and expiry; their notices go through the outbox
    # of the device-order sweep, which runs after it every 10 minutes.
    "interim-access-sweep": {
        "task": "passcodes.tasks.sweep_interim_access",
        "schedule": timedelta(minutes=5),
    },
}

OTP_TOTP_ISSUER = "SLS portal"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Every number of RULES.md lives here, once. "(ours)" marks a value the
# seed does not give; the rule ID says where it comes from.
SLS = {
    # L3: 10 failed attempts within any 24 hours lock the username until
    # 24 hours after the last failure.
    "LOCKOUT_FAILURES": 10,
    "LOCKOUT_WINDOW": timedelta(hours=24),
    "LOCKOUT_DURATION": timedelta(hours=24),
    # (ours) A reservation whose request died without resolving stops
    # counting after this long.
    "ATTEMPT_RESERVATION_TTL": timedelta(minutes=2),
    # (ours) SECURITY.md 7: failures from one address in the window below
    # before that address is refused (429), so it cannot lock many users.
    "ADDRESS_FAILURES_LIMIT": 100,
    "ADDRESS_FAILURES_WINDOW": timedelta(hours=1),
    # (ours) L1: the longest username we store.
    "USERNAME_MAX_LENGTH": 32,
    # (ours) Bound on what a login form accepts before rejecting it outright.
    "INPUT_MAX_LENGTH": 256,
    # (ours) SECURITY.md 3: NIST 800-63B AAL2.
    "SESSION_IDLE": timedelta(minutes=30),
    "SESSION_ABSOLUTE": timedelta(hours=12),
    # (ours) Step 2 must follow step 1 within this time (API.md: 5 minutes).
    "LOGIN_TOKEN_TTL": timedelta(minutes=5),
    # Security Code Card: 224 printed codes (s492); (ours) 3 characters each
    # from an alphabet without look-alikes, two asked at each login.
    "CODE_CARD_SIZE": 224,
    "CODE_CARD_CODE_LENGTH": 3,
    "CODE_CARD_ALPHABET": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "CODE_CARD_POSITIONS_ASKED": 2,
    # (ours) django-otp's throttling of each device on top of L3: after n
    # failures in a row the next check waits factor * 2^(n-1) seconds.
    "DEVICE_THROTTLE_FACTOR": 1,
    # D2 (ours): a device PIN is 4 to 8 digits, not all the same digit.
    "DEVICE_PIN_MIN_LENGTH": 4,
    "DEVICE_PIN_MAX_LENGTH": 8,
    # (ours) TOTP devices (mobile, Alpine): one time step of clock drift
    # either way is accepted (RFC 6238 section 6).
    "TOTP_DRIFT_STEPS": 1,
    # (ours) SECURITY.md 11: the code texted to validate a phone number
    # expires in 10 minutes, takes 5 tries, and has 6 digits.
    "PHONE_CODE_TTL": timedelta(minutes=10),
    "PHONE_CODE_TRIES": 5,
    "PHONE_CODE_LENGTH": 6,
    # (ours) Agents' identity verifications are good for this long.
    "IDENTITY_VERIFICATION_VALID": timedelta(minutes=30),
    # A2/A3: temporary passcode windows; A4: online card.
    "PASSCODE_FULL_ACCESS": timedelta(days=2),
    "PASSCODE_RESTRICTED_ACCESS": timedelta(days=10),
    "ONLINE_CARD_ACCESS": timedelta(days=21),
    # L4 (ours): a temporary passcode is 12 characters of upper-case letters
    # and digits without look-alikes (60 bits; L3 allows 10 guesses a day).
    "PASSCODE_LENGTH": 12,
    "PASSCODE_ALPHABET": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    # A7 (ours): an expired passcode or card is still recognised at step 2
    # for this long after its window closed, so the client who types it is
    # told it expired and whom to call, not a bare "Login Failed".
    "INTERIM_RECOGNISED_AFTER_END": timedelta(days=90),
    # C (ours): the online card's expiry is announced this long before, on
    # its pages and by e-mail.
    "ONLINE_CARD_WARNING_BEFORE": timedelta(days=3),
    # (ours) The client's own security activity on the Secure Login System
    # page: the events of this period, at most this many (newest first).
    "SECURITY_ACTIVITY_PERIOD": timedelta(days=30),
    "SECURITY_ACTIVITY_ENTRIES": 50,
    # (ours) An agent's timeline of a client shows this many audit events,
    # newest first; the audit log has the rest.
    "AGENT_TIMELINE_EVENTS": 100,
    # T6: a lost, stolen, damaged or unreturned device is charged, from 20
    # to 150 USD by type (s19, s158).
    "DEVICE_FEE_RANGE_USD": (20, 150),
    # T6: the charge by device type, in USD, within the range above. The
    # Digital Security Card+ is 20 USD (s499); (ours) the others. A Security
    # Code Card is not in the table: it is destroyed, never returned (T5);
    # nor is the mobile authenticator, an app on the client's own phone.
    "DEVICE_CHARGE_USD": {
        "dsc_plus": Decimal("20.00"),
        "alpine": Decimal("40.00"),  # (ours)
        "gold": Decimal("60.00"),  # (ours)
        "platinum": Decimal("150.00"),  # (ours) the top of the range, the most costly device
    },
    # (ours) T1: the longest "brief reason for the return" the form takes,
    # and the longest reason an agent gives for waiving a charge (T6).
    "RETURN_REASON_MAX_LENGTH": 500,
    "CHARGE_WAIVE_REASON_MAX_LENGTH": 1000,
    # T3: a receipt is reflected on the account within 3 days of arrival (s249).
    "RETURN_RECEIPT_DAYS": 3,
    # J1 (ours): how often the jobs sweep, and how many rows per batch.
    "JOB_BATCH_SIZE": 5000,
    # (ours) Retention (login/retention.py, hourly). A pending login is
    # deleted this long after it expired (it expires after LOGIN_TOKEN_TTL).
    "PENDING_LOGIN_RETENTION": timedelta(days=1),
    # Attempts are deleted after this long: it must be longer than every
    # window they are counted in (LOCKOUT_WINDOW, ADDRESS_FAILURES_WINDOW);
    # the job refuses to run otherwise. It also bounds how far back agents
    # see a username's attempts. Expired sessions are deleted at once.
    # Audit events are kept apart, longer, and never touched by this job.
    "LOGIN_ATTEMPT_RETENTION": timedelta(days=90),
    # B1: withdrawal limits of one account, over the last 24 hours ("day")
    # and over any rolling 5 days (a window ending now). (ours) The numbers.
    "WITHDRAWAL_LIMITS_USD": {
        "enrolled": {"day": Decimal("50000.00"), "five_days": Decimal("150000.00")},
        "unenrolled": {"day": Decimal("5000.00"), "five_days": Decimal("10000.00")},
    },
    "WITHDRAWAL_DAY": timedelta(days=1),
    "WITHDRAWAL_FIVE_DAYS": timedelta(days=5),
    # B3 (s465): unenrolled accounts fund by ACH/EFT only up to an initial
    # USD 20,000 in total.
    "B3_ACH_EFT_UNENROLLED_USD": Decimal("20000.00"),
    # (ours) One deposit request of an enrolled account above this is refused
    # as implausible (enrolled accounts have no B3 cap).
    "DEPOSIT_MAX_USD": Decimal("10000000.00"),
    # (ours) SECURITY.md 15: a second factor confirmed again this recently
    # allows changing banking instructions or the e-mail address.
    "FRESH_FACTOR_VALID": timedelta(minutes=5),
    # D6 (ours): the device an order gets by the client's equity in USD
    # (open, funded accounts added up) when it is placed: the last row whose
    # threshold the equity reaches.
    "DEVICE_BY_EQUITY_USD": [
        (Decimal("0"), "code_card"),
        (Decimal("10000"), "dsc_plus"),
        (Decimal("100000"), "gold"),
        (Decimal("1000000"), "platinum"),
    ],
    # D1 (ours): an order is shipped this long after it is placed (handling).
    "DEVICE_HANDLING": timedelta(days=1),
    # D4: delivery takes up to 2 days for US residents, 3 to 14 elsewhere by
    # country of residence. (ours) The table; a country not in it: DEFAULT.
    "DELIVERY_DAYS_BY_COUNTRY": {
        "US": 2,
        "CA": 4,
        "GB": 4,
        "IE": 4,
        "IT": 5,
        "DE": 4,
        "FR": 4,
        "CH": 3,
        "ES": 5,
        "NL": 4,
        "HK": 6,
        "JP": 7,
        "CN": 10,
        "SG": 7,
        "AU": 10,
        "IN": 12,
        "DEFAULT": 14,
    },
    # D3 (ours): a permanent device activates itself this long after its
    # projected delivery date, unless activated earlier (R1).
    "AUTO_ACTIVATION_AFTER_DELIVERY": timedelta(days=2),
    # D5 (ours): the Platinum PIN's digits, and its passphrase in groups of
    # 5 characters from an alphabet without look-alikes (100 bits).
    "PLATINUM_PIN_LENGTH": 6,
    "PLATINUM_PASSPHRASE_GROUPS": 4,
    # A8 (ours): the longest reason an agent may give for closing an account.
    "CLOSURE_REASON_MAX_LENGTH": 1000,
}

SESSION_COOKIE_AGE = int(SLS["SESSION_IDLE"].total_seconds())

# The TrueType fonts embedded in the PDFs we make (the return form, T1), so
# that Chinese and Japanese text (the Tokyo return address, a reason typed
# in Japanese, the labels in the client's language) renders in any reader.
# Debian's fonts-ipafont-gothic and fonts-wqy-zenhei (installed by the
# Dockerfile and .ci/run): (name, path, index of the face in a .ttc file).
# IPA P Gothic (proportional) for Japanese, WenQuanYi Zen Hei (Chinese, Japanese kana and
# Latin) for everything else. reportlab cannot load the CFF-based Noto CJK
# fonts, and its built-in CID fonts are not embedded.
PDF_FONTS = {
    "ja": ("IPAPGothic", env_str("PDF_FONT_JA", "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf"), 0),
    "default": ("WenQuanYiZenHei", env_str("PDF_FONT_DEFAULT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
}
