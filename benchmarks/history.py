#!/usr/bin/env python
"""What a login's L3 bookkeeping costs with a long history, against none.

Issue 7, section 7: the username's count used to read every attempt of the
last 24 hours, successes included, so a username with 50,000 successes in
the window paid 5x per login. The count now reads a partial index of the
outcomes it counts (login/models.py, attempt_guard_at_counted).

On PostgreSQL (DATABASE_URL), in a database of its own (bench_history),
this times the reservation and its resolution (login.lockout.reserve, then
resolve_failure, the statements every step-1 attempt makes around the
hash) for:

  baseline  a username with no history;
  busy      a username with 50,000 successes in the window;

in the same database of 1,000,000 attempts (other usernames' failures and
successes, an office address's successes),

interleaved, and reports busy / baseline per call (goal: flat, <= 1.5x).
Results go between this script's markers in benchmarks/RESULTS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/history.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- history.py: begin -->", "<!-- history.py: end -->"
GOAL = 1.5
CALLS = 300


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("history.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    base, _, _name = url.rpartition("/")
    os.environ["DATABASE_URL"] = f"{base}/bench_history"
    os.environ["DJANGO_SETTINGS_MODULE"] = "sls_portal.settings"
    os.environ["DEBUG"] = "1"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    sys.path.insert(0, str(ROOT))
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS bench_history")
        admin.execute("CREATE DATABASE bench_history")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def load(now: datetime) -> None:
    """The busy username's 50,000 successes and 949,000 other attempts."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO login_loginguard (username) VALUES ('quiet'), ('busy')")
        cursor.execute("INSERT INTO login_loginguard (username) SELECT 'other' || n FROM generate_series(1, 10000) n")
        cursor.execute(
            "INSERT INTO login_loginattempt (guard_id, at, step, outcome, ip, channel)"
            " SELECT (SELECT id FROM login_loginguard WHERE username = 'busy'),"
            " %s - (n || ' seconds')::interval, 'code', 'succeeded', '203.0.113.5', 'web'"
            " FROM generate_series(1, 50000) n",
            [now],
        )
        cursor.execute(
            "INSERT INTO login_loginattempt (guard_id, at, step, outcome, ip, channel)"
            " SELECT g.id, %s - ((n %% 80000) || ' seconds')::interval, 'password',"
            " CASE WHEN n %% 4 = 0 THEN 'failed' ELSE 'succeeded' END, ('203.0.113.' || (n %% 200))::inet, 'web'"
            " FROM generate_series(1, 949000) n JOIN login_loginguard g ON g.username = 'other' || (n %% 10000 + 1)",
            [now],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM login_loginattempt")
        print(f"{cursor.fetchone()[0]:,} attempts stored")


def one_attempt(username: str, now: datetime) -> float:
    from login import lockout
    from login.models import LoginAttempt

    started = time.perf_counter()
    reservation = lockout.reserve(
        username, step=LoginAttempt.Step.PASSWORD, ip="203.0.113.5", channel="web", now=now, throttle_address=True
    )
    lockout.resolve_step_passed(reservation, now)
    return time.perf_counter() - started


def measure(now: datetime) -> dict:
    for _ in range(20):  # warm-up: plans, caches, the driver's prepared statements
        one_attempt("quiet", now)
        one_attempt("busy", now)
    quiet, busy = [], []
    for index in range(CALLS):
        pair = [("quiet", quiet), ("busy", busy)]
        for username, times in pair if index % 2 else reversed(pair):
            times.append(one_attempt(username, now))
    return {"quiet": statistics.median(quiet), "busy": statistics.median(busy)}


def without_partial_index() -> None:
    """The index as it was before: every outcome of a username, successes too."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX attempt_guard_at_counted")
        cursor.execute("CREATE INDEX attempt_guard_at_all ON login_loginattempt (guard_id, at)")
        cursor.execute("ANALYZE login_loginattempt")


def write(result: dict, before: dict, now: datetime) -> None:
    from django.db import connection

    ratio = result["busy"] / result["quiet"]
    section = "\n".join(
        [
            BEGIN,
            "## L3 counts with a long history (benchmarks/history.py)",
            "",
            f"- {now:%Y-%m-%d %H:%M} UTC, PostgreSQL {connection.pg_version // 10000}; {CALLS} calls of each,"
            " interleaved, after 20 of each as warm-up; median per call of `lockout.reserve()` and its resolution.",
            "- baseline: a username with no history; busy: a username with 50,000 successes in the window;"
            " both in one database of 1,000,000 attempts (other usernames' failures and successes, an office"
            " address's successes).",
            f"- baseline {result['quiet'] * 1000:.2f} ms, busy {result['busy'] * 1000:.2f} ms:"
            f" **{ratio:.2f}x** (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'not met'}).",
            f"- The same run with the index as it was before (all outcomes of a username): baseline"
            f" {before['quiet'] * 1000:.2f} ms, busy {before['busy'] * 1000:.2f} ms:"
            f" {before['busy'] / before['quiet']:.2f}x.",
            END,
        ]
    )
    text = RESULTS.read_text()
    if BEGIN in text:
        start, rest = text.split(BEGIN, 1)
        text = start + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(section)


def main() -> int:
    setup_django()
    now = datetime.now(UTC).replace(microsecond=0)
    load(now - timedelta(seconds=1))
    result = measure(now)
    without_partial_index()
    before = measure(now)
    write(result, before, now)
    return 0 if result["busy"] / result["quiet"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
