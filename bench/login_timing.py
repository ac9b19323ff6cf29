"""Login timing: does a wrong e-mail take as long as a wrong password? (No
e-mail enumeration by the clock: core/accounts.py checks a dummy scrypt hash
when the e-mail has no account.) Prints figures; asserts nothing.

    python -m bench.login_timing [--rounds 60]

On a database of its own (made on TEST_DATABASE_URL's or DATABASE_URL's
server, migrated, dropped at the end), one account is made, then
core.accounts.check_login runs `rounds` times for each case, interleaved
(unknown e-mail, wrong password, right password), each in its own
transaction as the console's login will. Throttling is set out of the way.
The figures: median, quartiles and the 90th percentile per case, and the
difference of the medians against the spread (the interquartile range)."""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extras

from python_services.common.config import read_environment
from python_services.common.migrate import migrate
from python_services.core import accounts, users

PASSWORD = "the right password, long enough"
CASES = ("unknown e-mail", "wrong password", "right password")
LOOSE = accounts.LoginPolicy(max_failures_per_account=10**9, max_failures_per_address=10**9, window_seconds=60)


def _server_url() -> str:
    env = read_environment()
    return env.get("TEST_DATABASE_URL") or env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def scratch_database(prefix: str = "hf_bench_login"):
    """A migrated database of its own on the test server, dropped afterwards
    (bench/console_pages.py uses it too)."""
    server = _server_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(_with_database(server, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _with_database(server, name)
        migrate(url)
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def timed_login(conn, email: str, password: str) -> float:
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        accounts.check_login(cur, email, password, "198.51.100.7", LOOSE)
    return (time.perf_counter() - started) * 1000


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args(argv)
    with scratch_database() as url:
        conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
        try:
            with conn, conn.cursor() as cur:
                users.insert(cur, "ana@example.com", accounts.hash_password(PASSWORD))
            timed_login(conn, "warm@example.com", "x")  # the dummy hash is made once per process
            times = {case: [] for case in CASES}
            for n in range(args.rounds):
                times["unknown e-mail"].append(timed_login(conn, f"nobody{n}@example.com", "some password"))
                times["wrong password"].append(timed_login(conn, "ana@example.com", f"wrong password {n}"))
                times["right password"].append(timed_login(conn, "ana@example.com", PASSWORD))
        finally:
            conn.close()
    print(f"login timing, {args.rounds} rounds each, interleaved (ms: q1 / median / q3, p90)")
    for case in CASES:
        q1, median, q3 = quartiles(times[case])
        p90 = statistics.quantiles(times[case], n=10)[-1]
        print(f"  {case:<16} {q1:7.1f} / {median:7.1f} / {q3:7.1f}   p90 {p90:7.1f}")
    (a1, a, a3), (b1, b, b3) = quartiles(times["unknown e-mail"]), quartiles(times["wrong password"])
    spread = max(a3 - a1, b3 - b1)
    print(f"  unknown e-mail - wrong password: {a - b:+.1f} ms between medians; interquartile range up to "
          f"{spread:.1f} ms -> {'within' if abs(a - b) <= spread else 'OUTSIDE'} the noise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
