#!/usr/bin/env python
"""The jobs' cost against one bulk statement over the same rows, on PostgreSQL.

ARCHITECTURE.md (Performance) and issue 7 section 7: a job costs what is due,
not what is stored. This script measures, in one run on one database:

  (a) the lift-recorded job (login/jobs.py) over 100,000 due locks among
      1,000,000 guard rows, against one bulk UPDATE that marks the same
      rows recorded (target: <= 3x), with its statements;
  (b) the same job with nothing due, at 1,000 and at 1,000,000 guard rows
      (flat: the same few statements, the same milliseconds), and the
      PostgreSQL plan of its claim at 1,000,000 rows;
  (c) the retention job (login/retention.py) over a backlog of old
      attempts, pending logins and expired sessions, against one bulk
      DELETE of each kind of the same rows, with its statements;
  (d) D3's auto-activation (devices/jobs.py `activate_due`) over 100,000
      due orders among twice as many ordered devices, against one bulk
      UPDATE that activates the same devices (target: <= 3x), with its
      statements, and the same job with nothing due.

The rows are loaded in SQL (INSERT .. SELECT generate_series) into a
database of its own, `bench_jobs` (or --database) on the server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/), dropped and
migrated afresh. Results go to a "Jobs" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/jobs.py [--guards 1000000] [--due 100000] [--backlog 300000] [--orders 100000]
    make bench-jobs [BENCH_ARGS="--check"]
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
BEGIN = "<!-- jobs.py: begin -->"
END = "<!-- jobs.py: end -->"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guards", type=int, default=1_000_000, help="guard rows (usernames ever typed)")
    parser.add_argument("--due", type=int, default=100_000, help="due locks for the lift job")
    parser.add_argument("--backlog", type=int, default=300_000, help="old attempts for the retention job")
    parser.add_argument("--orders", type=int, default=100_000, help="due device orders for D3's auto-activation")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs of the auto-activation and its UPDATE")
    parser.add_argument("--database", default="bench_jobs", help="the database made (and dropped) for the run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    return parser.parse_args()


def configure(database: str) -> str:
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(server)
    if not parts.scheme.startswith("postgres"):
        sys.exit("benchmarks/jobs.py needs PostgreSQL: set DATABASE_URL to a PostgreSQL server")
    if not database.replace("_", "").isalnum():
        sys.exit("--database: letters, digits and _ only")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
    os.environ.setdefault("DEBUG", "1")  # settings load without production secrets
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sls_portal.settings")
    sys.path.insert(0, str(ROOT))
    import psycopg

    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.execute(f"CREATE DATABASE {database}")
    return os.environ["DATABASE_URL"]


class Timer:
    """Wall time and the statements Django sent."""

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        from django.test.utils import CaptureQueriesContext

        self.queries = CaptureQueriesContext(self.connection)
        self.queries.__enter__()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.queries.__exit__(*exc)
        self.statements = len(self.queries.captured_queries)


def sql(statement: str, params=()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def vacuum(
    tables=("login_loginguard", "login_loginattempt", "login_pendinglogin", "django_session", "audit_auditevent"),
):
    for table in tables:
        sql(f"VACUUM ANALYZE {table}")


def plan(now: datetime) -> list[str]:
    from django.db import connection, transaction

    from login import jobs

    with transaction.atomic(), connection.cursor() as cursor:
        statement, params = jobs.batch_sql(now, 1000)
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, params)
        rows = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)  # EXPLAIN ANALYZE runs the batch: its writes are rolled back
    return rows


def bench_lift(args, now: datetime) -> dict:
    from django.db import connection

    from login import jobs

    past, future = now - timedelta(hours=1), now + timedelta(hours=1)
    recorded = now - timedelta(days=3)
    out: dict = {}

    def nothing_due(guards: int) -> Timer:
        # A tenth of the usernames locked once and recorded; 1,000 live locks.
        sql("TRUNCATE login_loginguard CASCADE")
        sql(
            "INSERT INTO login_loginguard (username, locked_until, lift_recorded_for)"
            " SELECT 'user' || g, CASE WHEN g %% 10 = 0 THEN %s WHEN g <= 1000 THEN %s END,"
            " CASE WHEN g %% 10 = 0 THEN %s END FROM generate_series(1, %s) g",
            [recorded, future, recorded, guards],
        )
        vacuum()
        jobs.record_lifted_locks(now)  # warm
        with Timer(connection) as timer:
            assert jobs.record_lifted_locks(now) == 0
        return timer

    small = nothing_due(1000)
    large = nothing_due(args.guards)
    out["idle_small"], out["idle_large"] = small, large
    out["plan_idle"] = plan(now)

    # Due locks: `due` of the never-locked usernames, ending an hour ago.
    due_where = "locked_until IS NULL AND id %% 10 <> 0 AND id > 1000"
    chosen = f"id IN (SELECT id FROM login_loginguard WHERE {due_where} ORDER BY id LIMIT %s)"
    sql(f"UPDATE login_loginguard SET locked_until = %s WHERE {chosen}", [past, args.due])
    vacuum()
    out["plan_due"] = plan(now)
    bulk_sql = (
        "UPDATE login_loginguard SET lift_recorded_for = locked_until"
        " WHERE locked_until <= %s AND (lift_recorded_for IS NULL OR lift_recorded_for <> locked_until)"
    )
    with Timer(connection) as bulk:
        rows = sql(bulk_sql, [now])
    assert rows == args.due, rows
    sql("UPDATE login_loginguard SET lift_recorded_for = NULL WHERE locked_until = %s", [past])
    vacuum()
    with Timer(connection) as job:
        assert jobs.record_lifted_locks(now) == args.due
    out["bulk"], out["job"] = bulk, job
    out["events"] = sql("SELECT 1 FROM audit_auditevent WHERE action = 'lockout.lifted'")
    # The floor of what the job must do: the same UPDATE, and one event per
    # lock (the audit table and its indexes), each as one bulk statement.
    with Timer(connection) as inserts:
        sql(
            "INSERT INTO audit_auditevent (at, action, outcome, username, rule, details, dedupe_key)"
            " SELECT %s, 'bench.floor', 'ok', username, 'L3', '{}'::jsonb, 'bench.floor:' || id"
            " FROM login_loginguard WHERE locked_until = %s",
            [now, past],
        )
    sql("DELETE FROM audit_auditevent WHERE action = 'bench.floor'")
    out["inserts"] = inserts
    with Timer(connection) as after:
        assert jobs.record_lifted_locks(now) == 0
    out["idle_after"] = after
    return out


def bench_retention(args, now: datetime) -> dict:
    from django.conf import settings
    from django.db import connection

    from login import retention

    old_attempt = now - settings.SLS["LOGIN_ATTEMPT_RETENTION"] - timedelta(days=1)
    old_pending = now - settings.SLS["PENDING_LOGIN_RETENTION"] - timedelta(days=1)
    backlog, side = args.backlog, args.backlog // 3
    recent = args.backlog // 3  # kept: the last 90 days

    def load() -> None:
        sql("TRUNCATE login_loginattempt, login_pendinglogin, django_session")
        sql("INSERT INTO login_loginguard (username) VALUES ('retention') ON CONFLICT DO NOTHING")
        guard = "(SELECT id FROM login_loginguard WHERE username = 'retention')"
        sql(
            "INSERT INTO login_loginattempt (guard_id, at, step, outcome, ip, channel)"
            f" SELECT {guard}, %s + g * interval '1 second', 'password', 'failed', '198.51.100.1', 'web'"
            " FROM generate_series(1, %s) g",
            [old_attempt - timedelta(days=30), backlog],
        )
        sql(
            "INSERT INTO login_loginattempt (guard_id, at, step, outcome, ip, channel)"
            f" SELECT {guard}, %s - g * interval '1 second', 'password', 'succeeded', '198.51.100.1', 'web'"
            " FROM generate_series(1, %s) g",
            [now, recent],
        )
        sql(
            "INSERT INTO login_pendinglogin (user_id, created_at, expires_at, offers, challenge_serial)"
            " SELECT (SELECT id FROM accounts_user LIMIT 1), %s, %s, '[]', 0 FROM generate_series(1, %s)",
            [old_pending, old_pending, side],
        )
        sql(
            "INSERT INTO django_session (session_key, session_data, expire_date)"
            " SELECT md5(g::text), '', %s - g * interval '1 second' FROM generate_series(1, %s) g",
            [now, side],
        )
        vacuum()

    from accounts.models import User

    User.objects.create_user("bench", password=None)
    load()
    with Timer(connection) as bulk:
        sql("DELETE FROM login_loginattempt WHERE at < %s", [now - settings.SLS["LOGIN_ATTEMPT_RETENTION"]])
        sql("DELETE FROM login_pendinglogin WHERE expires_at < %s", [now - settings.SLS["PENDING_LOGIN_RETENTION"]])
        sql("DELETE FROM django_session WHERE expire_date <= %s", [now])
    load()
    with Timer(connection) as job:
        deleted = retention.prune(now)
    assert deleted == {"pending_logins": side, "sessions": side, "login_attempts": backlog}, deleted
    with Timer(connection) as idle:
        assert retention.prune(now) == {"pending_logins": 0, "sessions": 0, "login_attempts": 0}
    return {"bulk": bulk, "job": job, "idle": idle, "backlog": backlog, "side": side, "recent": recent}


DEVICE_TABLES = ("accounts_client", "devices_securitydevice", "devices_deviceorder", "devices_notice")


def bench_auto_activation(args, now: datetime) -> dict:
    """D3: `orders` due devices (their auto-activation an hour ago) and as
    many ordered devices not due yet (tomorrow); each the client's first
    device, shipped, with its order. The bulk UPDATE activates exactly the
    due devices; the job then does the same from the same state."""
    from django.conf import settings
    from django.db import connection

    from devices import jobs

    due, later = args.orders, args.orders
    past, future = now - timedelta(hours=1), now + timedelta(days=1)
    out: dict = {"due": due, "stored": due + later}

    def load() -> None:
        sql("TRUNCATE devices_notice, devices_deviceorder, devices_securitydevice, accounts_client CASCADE")
        sql(
            "INSERT INTO accounts_client (first_name, last_name, email, phone, address, country, language, created_at)"
            " SELECT 'C' || g, 'Bench', 'c' || g || '@example.com', '+1 203 555 0100', '1 Main St', 'US', 'en', %s"
            " FROM generate_series(1, %s) g",
            [now - timedelta(days=30), due + later],
        )
        sql(
            "INSERT INTO devices_securitydevice (client_id, type, serial, status, seed_encrypted, created_at,"
            " pin_digest_encrypted, auto_activates_at)"
            " SELECT id, 'code_card', 'BJ' || id, 'issued', 'x', %s, '',"
            " CASE WHEN id %% 2 = 0 THEN %s ELSE %s END FROM accounts_client",
            [now - timedelta(days=6), past, future],
        )
        sql(
            "INSERT INTO devices_deviceorder (client_id, device_type, equity_usd, device_id, shipping_address,"
            " shipping_country, shipping_method, requested_at, finalised_at, projected_ship_at, shipped_at,"
            " projected_delivery_at, passphrase_hash)"
            " SELECT client_id, 'code_card', 500, id, '1 Main St', 'US', 'domestic_priority', %s, %s, %s, %s,"
            " auto_activates_at - %s, '' FROM devices_securitydevice",
            [now - timedelta(days=6)] * 4 + [settings.SLS["AUTO_ACTIVATION_AFTER_DELIVERY"]],
        )
        vacuum(DEVICE_TABLES)

    bulk_sql = (
        "UPDATE devices_securitydevice SET status = 'active', activated_at = %s"
        " WHERE status = 'issued' AND auto_activates_at <= %s"
    )

    def bulk_run() -> tuple[Timer, Timer]:
        load()
        assert sql("SELECT 1 FROM devices_securitydevice WHERE auto_activates_at <= %s", [now]) == due
        with Timer(connection) as bulk:
            assert sql(bulk_sql, [now, now]) == due
        # The floor of what the job must write: the devices, and one notice
        # each (the orders are activated by their timestamps: nothing to write).
        with Timer(connection) as floor:
            sql(
                "INSERT INTO devices_notice (event, object_key, client_id, created_at)"
                " SELECT 'bench.floor', 'device:' || id, client_id, %s FROM devices_securitydevice"
                " WHERE status = 'active'",
                [now],
            )
        return bulk, floor

    def job_run() -> tuple[Timer, Timer, Timer]:
        load()
        batch = settings.SLS["JOB_BATCH_SIZE"]
        with Timer(connection) as idle:
            assert jobs.activate_due(past - timedelta(hours=1), batch) == 0
        with Timer(connection) as job:
            assert jobs.activate_due(now, batch) == due
        assert sql("SELECT 1 FROM devices_notice WHERE event = %s", [jobs.ACTIVATED]) == due
        assert (
            sql("SELECT 1 FROM devices_securitydevice WHERE status = 'active' AND auto_activates_at <= %s", [now])
            == due
        )
        with Timer(connection) as after:
            assert jobs.activate_due(now, batch) == 0
        return job, idle, after

    # The machine is shared: pairs of runs, alternating which goes first;
    # the ratio is the median of the pairs' ratios.
    out["load_before"] = os.getloadavg()[0]
    pairs = []
    for index in range(args.repeats):
        if index % 2 == 0:
            measured = (bulk_run(), job_run())
        else:
            job_first = job_run()
            measured = (bulk_run(), job_first)
        pairs.append(measured)
    out["load_after"] = os.getloadavg()[0]
    pairs.sort(key=lambda pair: pair[1][0].seconds / pair[0][0].seconds)
    (bulk, floor), (job, idle, after) = pairs[len(pairs) // 2]
    out["ratios"] = [pair[1][0].seconds / pair[0][0].seconds for pair in pairs]
    out.update(bulk=bulk, floor=floor, job=job, idle=idle, after=after)
    sql("TRUNCATE devices_notice, devices_deviceorder, devices_securitydevice, accounts_client CASCADE")
    return out


def report(args, lift: dict, kept: dict, auto: dict, server: str) -> str:
    batch = __import__("django.conf").conf.settings.SLS["JOB_BATCH_SIZE"]
    ratio_lift = lift["job"].seconds / lift["bulk"].seconds
    ratio_ret = kept["job"].seconds / kept["bulk"].seconds
    floor_lift = lift["job"].seconds / (lift["bulk"].seconds + lift["inserts"].seconds)
    ratio_auto = auto["job"].seconds / auto["bulk"].seconds
    floor_auto = auto["job"].seconds / (auto["bulk"].seconds + auto["floor"].seconds)
    ms = lambda timer: f"{timer.seconds * 1000:,.1f} ms"  # noqa: E731
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        BEGIN,
        "## Jobs (benchmarks/jobs.py)",
        "",
        f"Latest run {stamp} UTC, {server}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" JOB_BATCH_SIZE {batch}. Each job against one bulk statement over the same rows in the same run.",
        "",
        "| job | rows | job | statements | one bulk statement | ratio | target |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| lift recorded, {args.due:,} due among {args.guards:,} guards | {args.due:,} | {ms(lift['job'])}"
        f" | {lift['job'].statements} | {ms(lift['bulk'])} (UPDATE) | {ratio_lift:.2f} | ≤ {TARGET:g} |",
        f"| lift recorded, against the UPDATE and one bulk INSERT of its {args.due:,} events"
        f" | {args.due:,} | {ms(lift['job'])} | {lift['job'].statements}"
        f" | {ms(lift['bulk'])} + {ms(lift['inserts'])} | {floor_lift:.2f} | (context) |",
        f"| retention: old attempts, pending logins, expired sessions | {kept['backlog']:,} + {kept['side']:,}"
        f" + {kept['side']:,} | {ms(kept['job'])} | {kept['job'].statements} | {ms(kept['bulk'])} (3 DELETEs)"
        f" | {ratio_ret:.2f} | ≤ {TARGET:g} |",
        f"| D3 auto-activation, {auto['due']:,} due among {auto['stored']:,} ordered devices"
        f" (median of {len(auto['ratios'])} pairs) | {auto['due']:,}"
        f" | {ms(auto['job'])} | {auto['job'].statements} | {ms(auto['bulk'])} (UPDATE) | {ratio_auto:.2f}"
        f" | ≤ {TARGET:g} |",
        f"| D3 auto-activation, against the UPDATE and one bulk INSERT of its notices"
        f" | {auto['due']:,} | {ms(auto['job'])} | {auto['job'].statements}"
        f" | {ms(auto['bulk'])} + {ms(auto['floor'])} | {floor_auto:.2f} | (context) |",
        "",
        f"D3 auto-activation: the ratios of the {len(auto['ratios'])} pairs of runs were"
        f" {', '.join(f'{r:.2f}' for r in auto['ratios'])} (load average {auto['load_before']:.2f}"
        f" before, {auto['load_after']:.2f} after, on {os.cpu_count()} cores); a batch is one statement"
        f" (JOB_BATCH_SIZE devices), {auto['job'].statements} for the run.",
        "",
        "Nothing due (one run):",
        "",
        "| job | rows stored | time | statements |",
        "|---|---:|---:|---:|",
        f"| lift recorded | 1,000 guards | {ms(lift['idle_small'])} | {lift['idle_small'].statements} |",
        f"| lift recorded | {args.guards:,} guards | {ms(lift['idle_large'])} | {lift['idle_large'].statements} |",
        f"| lift recorded, right after recording {args.due:,} | {args.guards:,} guards | {ms(lift['idle_after'])}"
        f" | {lift['idle_after'].statements} |",
        f"| retention | {kept['recent']:,} attempts kept | {ms(kept['idle'])} | {kept['idle'].statements} |",
        f"| D3 auto-activation | {auto['stored']:,} ordered devices | {ms(auto['idle'])} | {auto['idle'].statements} |",
        f"| D3 auto-activation, right after activating {auto['due']:,} | {auto['due']:,} still ordered"
        f" | {ms(auto['after'])} | {auto['after'].statements} |",
        "",
        f"Plan of the lift job's claim at {args.guards:,} guards, nothing due (EXPLAIN ANALYZE):",
        "",
        "```",
        *lift["plan_idle"],
        "```",
        "",
        f"and with {args.due:,} due:",
        "",
        "```",
        *lift["plan_due"],
        "```",
        END,
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    text = RESULTS.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main() -> int:
    args = parse_args()
    url = configure(args.database)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    server = connection.cursor().connection.info.parameter_status("server_version")
    now = datetime.now(UTC).replace(microsecond=0)
    lift = bench_lift(args, now)
    kept = bench_retention(args, now)
    auto = bench_auto_activation(args, now)
    section = report(args, lift, kept, auto, f"PostgreSQL {server}")
    print(section)
    if not args.no_write:
        write(section)
    connection.close()
    del url
    ratio_lift = lift["job"].seconds / lift["bulk"].seconds
    ratio_ret = kept["job"].seconds / kept["bulk"].seconds
    ratio_auto = auto["job"].seconds / auto["bulk"].seconds
    return 1 if args.check and max(ratio_lift, ratio_ret, ratio_auto) > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
