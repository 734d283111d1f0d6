#!/usr/bin/env python
"""The interim credentials' jobs (passcodes/jobs.py) against one bulk UPDATE, on PostgreSQL.

Issue 9's measure: the expiry jobs over 100,000 due rows, with a constant
number of statements, their time as a ratio to one bulk UPDATE of the same
rows measured in the same run (goal <= 3x, ARCHITECTURE.md principle 5):

  (a) temporary passcodes past their 2 days: full -> restricted, each with
      its notice in the outbox;
  (b) online cards past their 21 days: full -> expired, each with its
      notice, the expiry computed in SQL (C5, C6) for every row.

Rows are loaded with INSERT .. SELECT generate_series into a database of its
own, `bench_interim`, on the server of DATABASE_URL. Results go to the
"Interim jobs" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/interim_jobs.py [--due 100000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
TARGET = 3.0
BEGIN = "<!-- interim_jobs.py: begin -->"
END = "<!-- interim_jobs.py: end -->"


def configure() -> None:
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(server)
    if not parts.scheme.startswith("postgres"):
        sys.exit("benchmarks/interim_jobs.py needs PostgreSQL: set DATABASE_URL to a PostgreSQL server")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/bench_interim"))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sls_portal.settings")
    sys.path.insert(0, str(ROOT))
    import psycopg

    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS bench_interim")
        admin.execute("CREATE DATABASE bench_interim")


def sql(statement: str, params=()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def timed(work) -> tuple[float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
    return seconds, len(queries.captured_queries), result


def load(due: int, issued: datetime) -> None:
    """`due` clients, each with a username, a lost card, a passcode issued at
    `issued` and an online card activated then."""
    sql(
        "INSERT INTO accounts_client (first_name, last_name, email, phone, address, country, language, created_at)"
        " SELECT 'B', 'C' || g, 'b' || g || '@example.com', '+1', 'x', 'US', 'en', %s FROM generate_series(1, %s) g",
        [issued, due],
    )
    sql(
        "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
        " is_active, date_joined, client_id)"
        " SELECT '!', false, 'bench' || id, '', '', '', false, true, %s, id FROM accounts_client",
        [issued],
    )
    sql(
        "INSERT INTO passcodes_temporarypasscode (name, confirmed, user_id, throttling_failure_count, client_id,"
        " code_digest, issued_at, device_status, ended_reason, phase)"
        " SELECT 'p', true, u.id, 0, u.client_id, md5(u.username), %s, 'lost', '', 'full' FROM accounts_user u",
        [issued],
    )
    sql(
        "INSERT INTO passcodes_onlinecard (name, confirmed, user_id, throttling_failure_count, client_id,"
        " seed_encrypted, created_at, applicant, activated_at, ended_reason, phase)"
        " SELECT 'c', true, u.id, 0, u.client_id, 'x', %s, false, %s, '', 'full' FROM accounts_user u",
        [issued, issued],
    )
    for table in ("passcodes_temporarypasscode", "passcodes_onlinecard", "devices_securitydevice", "accounts_account"):
        sql(f"VACUUM ANALYZE {table}")


def measure(due: int) -> dict:
    from django.conf import settings
    from django.core.management import call_command

    from passcodes import jobs

    call_command("migrate", verbosity=0)
    now = datetime.now(UTC)
    issued = now - timedelta(days=22)
    load(due, issued)
    batch = settings.SLS["JOB_BATCH_SIZE"]
    full, twelve = settings.SLS["PASSCODE_FULL_ACCESS"], timedelta(days=12)
    out = {}

    # (a) passcodes: past 2 days but not 12 -> restricted. The bulk baseline first, then undone.
    moment = issued + full + timedelta(hours=1)
    assert moment < issued + twelve
    out["bulk_passcodes"] = timed(
        lambda: sql(
            "UPDATE passcodes_temporarypasscode SET phase = 'restricted'"
            " WHERE phase = 'full' AND ended_at IS NULL AND issued_at <= %s",
            [moment - full],
        )
    )
    sql("UPDATE passcodes_temporarypasscode SET phase = 'full'")
    sql("VACUUM ANALYZE passcodes_temporarypasscode")
    out["job_passcodes"] = timed(lambda: jobs.sweep_passcodes(moment, batch))
    out["idle_passcodes"] = timed(lambda: jobs.sweep_passcodes(moment, batch))

    # (b) cards: past 21 days -> expired (the expiry computed in SQL for each row).
    sql("DELETE FROM devices_notice")
    out["bulk_cards"] = timed(
        lambda: sql(
            "UPDATE passcodes_onlinecard SET phase = 'expired'"
            " WHERE phase = 'full' AND ended_at IS NULL AND activated_at <= %s",
            [now - settings.SLS["ONLINE_CARD_ACCESS"]],
        )
    )
    sql("UPDATE passcodes_onlinecard SET phase = 'full'")
    sql("VACUUM ANALYZE passcodes_onlinecard")
    out["job_cards"] = timed(lambda: jobs.sweep_cards(now, batch))
    out["idle_cards"] = timed(lambda: jobs.sweep_cards(now, batch))
    return out


def report(due: int, out: dict) -> str:
    load1 = os.getloadavg()[0]
    lines = [
        f"- {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, Python {platform.python_version()},"
        f" PostgreSQL; {due:,} due rows of each kind, batches of the job's size; load average {load1:.2f}.",
    ]
    for kind, label, key in (
        ("passcodes", "Passcodes full -> restricted, with a notice each", "passcodes_restricted"),
        ("cards", "Online cards full -> expired (expiry in SQL), with a notice each", "cards_expired"),
    ):
        bulk_s, bulk_q, bulk_rows = out[f"bulk_{kind}"]
        job_s, job_q, job_result = out[f"job_{kind}"]
        idle_s, idle_q, _ = out[f"idle_{kind}"]
        ratio = job_s / bulk_s
        verdict = "meets" if ratio <= TARGET else "misses"
        lines.append(
            f"- {label}: the job {job_s:.2f} s in {job_q} statements for {job_result[key]:,} rows; one bulk"
            f" UPDATE {bulk_s:.2f} s ({bulk_rows:,} rows): **{ratio:.2f}x** ({verdict} the goal <= {TARGET:.0f}x)."
            f" Run again with nothing due: {idle_q} statements, {idle_s * 1000:.0f} ms."
        )
    return "\n".join(lines)


def write(text: str) -> None:
    content = RESULTS.read_text() if RESULTS.exists() else ""
    block = f"{BEGIN}\n## Interim jobs (benchmarks/interim_jobs.py)\n\n{text}\n{END}"
    if BEGIN in content and END in content:
        head, _sep, rest = content.partition(BEGIN)
        _old, _sep, tail = rest.partition(END)
        content = head + block + tail
    else:
        content = content.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    configure()
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    out = measure(args.due)
    text = report(args.due, out)
    print(text)
    if not args.no_write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
