#!/usr/bin/env python
"""The agents' searches at a million users against a plain indexed lookup, in the same run.

Goal: every search page within 3x of the same admin page finding one exact
username (the plain indexed lookup), at 1,000,000 clients, usernames,
accounts and devices on PostgreSQL.

It creates a database `bench_search` on the server of DATABASE_URL (dropped
first if it exists, kept afterwards for EXPLAIN unless --drop), builds the
schema with `migrate`, bulk-loads the rows in SQL (INSERT ... SELECT
generate_series, then ANALYZE), and times admin change-list pages through
Django's test Client as a logged-in agent: each page --repeat times after a
warm-up, the median reported, interleaved so that load hits every page alike.
The rows go to the "Agents' search" section of benchmarks/RESULTS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/admin_search.py [--users 1000000] [--repeat 15] [--check]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
DATABASE = "bench_search"
GOAL = 3.0
BEGIN = "<!-- admin_search.py: begin -->"
END = "<!-- admin_search.py: end -->"

FIRST_NAMES = ["Alice", "Marco", "Giulia", "Luca", "Sara", "Paolo", "Anna", "John", "Mary", "Kenji"]
SURNAMES = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Smith", "Tanaka", "Müller", "Dubois", "Garcia"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="clients (each one username, account, device)")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page (default 15)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a page is over {GOAL}x the baseline")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    parser.add_argument("--drop", action="store_true", help="drop bench_search at the end")
    parser.add_argument(
        "--reuse", action="store_true", help="time the bench_search left by an earlier run (migrated, not reloaded)"
    )
    return parser.parse_args()


def configure() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("admin_search.py needs DATABASE_URL=postgres://... (the server to create bench_search on)")
    url = urlparse(base)
    os.environ["DATABASE_URL"] = urlunparse(url._replace(path=f"/{DATABASE}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "sls_portal.settings"
    os.environ["DEBUG"] = "1"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    sys.path.insert(0, str(ROOT))
    return urlunparse(url._replace(path="/postgres"))


def recreate_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def load(users: int) -> float:
    """The rows, in SQL. Client i: one username u<i>, account U<i>, device SC<i>.
    One client in 100 has a common surname (Rossi ... Garcia: 1,000 each at a
    million) and one in 50 a common first name (Alice ... Kenji: 2,000 each);
    the others random ones."""
    from django.db import connection

    started = time.perf_counter()
    firsts = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST_NAMES) + "]"
    lasts = "ARRAY[" + ",".join(f"'{n}'" for n in SURNAMES) + "]"
    statements = [
        f"""INSERT INTO accounts_client (first_name, last_name, email, phone, address, country, created_at)
            SELECT CASE WHEN i % 50 = 0 THEN ({firsts})[1 + (i / 50) % {len(FIRST_NAMES)}]
                        ELSE initcap(substr(md5('f' || i), 1, 7)) END,
                   CASE WHEN i % 100 = 0 THEN ({lasts})[1 + (i / 100) % {len(SURNAMES)}]
                        ELSE initcap(substr(md5(i::text), 1, 9)) END,
                   'client' || i || '@example.com', '+39 02 0000 0000', 'Via Roma 1', 'IT', now()
            FROM generate_series(1, {users}) i""",
        """INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                      is_staff, is_active, date_joined, client_id)
            SELECT '!', false, 'u' || c.id, '', '', c.email, false, true, now(), c.id FROM accounts_client c""",
        """INSERT INTO accounts_account (number, client_id, equity_usd, funded_at)
            SELECT 'U' || lpad(c.id::text, 8, '0'), c.id, 1000, now() FROM accounts_client c""",
        """INSERT INTO devices_securitydevice (client_id, type, serial, status, seed_encrypted, created_at)
            SELECT c.id, 'code_card', 'SC' || lpad(c.id::text, 10, '0'), 'active', 'x', now()
            FROM accounts_client c""",
        "ANALYZE",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return time.perf_counter() - started


def agent_client():
    from django.test import Client as HttpClient
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from agents.admin_site import ADMIN_DEVICE_SESSION_KEY

    agent = User.objects.create_superuser("benchagent", "agent@sls.example", "x" * 20)
    device = TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    http = HttpClient()
    http.force_login(agent)
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = session[ADMIN_DEVICE_SESSION_KEY] = device.persistent_id
    session.save()
    return http


def pages(users: int) -> list[tuple[str, str]]:
    middle = users // 2
    return [
        ("baseline: user search, exact username", f"/admin/accounts/user/?q=u{middle}"),
        ("user list, no search", "/admin/accounts/user/"),
        ("user search, e-mail prefix", f"/admin/accounts/user/?q=client{middle}%40"),
        ("user search, surname prefix (1,000 clients)", "/admin/accounts/user/?q=rossi"),
        ("client list, no search", "/admin/accounts/client/"),
        ("client search, surname prefix (1,000 clients)", "/admin/accounts/client/?q=rossi"),
        ("client search, full name prefix", "/admin/accounts/client/?" + urlencode({"q": "alice ross"})),
        ("client search, e-mail prefix", f"/admin/accounts/client/?q=client{middle}%40"),
        ("client search, exact account number", f"/admin/accounts/client/?q=U{middle:08d}"),
        ("client search, exact username", f"/admin/accounts/client/?q=u{middle}"),
        ("client search, exact serial", f"/admin/accounts/client/?q=SC{middle:010d}"),
    ]


class DatabaseTime:
    """Seconds spent in the database during a request (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def measure(http, targets: list[tuple[str, str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Per page: (median database ms, median page ms)."""
    from django.db import connection

    db: dict[str, list[float]] = {label: [] for label, _ in targets}
    page: dict[str, list[float]] = {label: [] for label, _ in targets}
    for _ in range(2):  # warm-up: plans, caches
        for _label, url in targets:
            assert http.get(url).status_code == 200, url
    for _ in range(repeat):
        for label, url in targets:
            timer = DatabaseTime()
            started = time.perf_counter()
            with connection.execute_wrapper(timer):
                response = http.get(url)
            page[label].append(time.perf_counter() - started)
            db[label].append(timer.seconds)
            assert response.status_code == 200, url
    return {label: (statistics.median(db[label]) * 1000, statistics.median(page[label]) * 1000) for label in db}


def report(results: dict[str, tuple[float, float]], users: int, load_seconds: float, version: str) -> tuple[str, bool]:
    baseline = next(iter(results.values()))[0]
    met = all(db / baseline <= GOAL for db, _page in results.values())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    lines = [
        BEGIN,
        "## Agents' search at a million users (`admin_search.py`)",
        "",
        f"Latest run {now} UTC: {users:,} clients, usernames, accounts and devices on {version}, "
        f"{os.cpu_count()} cores, load {load:.2f}; rows loaded in {load_seconds:.0f} s. Each admin page "
        "as a logged-in agent (list pages show 100 rows); medians. The ratio compares the time spent in "
        "the database (every query of the request, session and permissions included) with the same page "
        f"finding one exact username; goal ≤ {GOAL:g}x. The whole page's time (rendering 100 rows "
        f"included) is for context. **Goal {'met' if met else 'NOT met'}.**",
        "",
        "| page | database ms | × baseline | whole page ms |",
        "|---|---:|---:|---:|",
    ]
    for label, (db, page) in results.items():
        lines.append(f"| {label} | {db:.1f} | {db / baseline:.2f} | {page:.0f} |")
    lines += ["", END]
    return "\n".join(lines), met


def write(section: str) -> None:
    text = RESULTS.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        # Above the login table, whose script rewrites everything below it.
        title, _, body = text.partition("\n\n")
        text = f"{title}\n\n{section}\n\n## Login throughput (`login.py`)\n\n{body}"
    RESULTS.write_text(text)


def main() -> None:
    args = parse_args()
    admin_url = configure()
    if not args.reuse:
        recreate_database(admin_url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0, interactive=False)
    setup_test_environment()
    settings.DEBUG = False
    if args.reuse:
        from accounts.models import Client, User

        User.objects.filter(username="benchagent").delete()
        args.users = Client.objects.count()
        http, load_seconds = agent_client(), 0.0
    else:
        http = agent_client()
        load_seconds = load(args.users)
    version = "PostgreSQL " + connection.cursor().connection.info.parameter_status("server_version")
    results = measure(http, pages(args.users), args.repeat)
    section, met = report(results, args.users, load_seconds, version)
    print(section)
    print(platform.python_version())
    if not args.no_write:
        write(section)
    if args.drop:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
