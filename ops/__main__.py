"""The commands the Makefile runs on the whole system:

    python -m ops up [--since EPOCH]   # start whatever is not running, print the addresses
    python -m ops down                 # stop what up started
    python -m ops status
    python -m ops reset-n8n            # n8n's own database and folder from scratch
    python -m ops postgres-url         # a server to make test databases on (make test)
    python -m ops import-flows

--since is the moment `make` started, so the progress lines count from there.
A step that fails says why in words (StepFailed), never with a stack trace.
"""
from __future__ import annotations

import argparse
import sys
import textwrap

from . import demo, keys, progress
from .progress import StepFailed, log
from .stack import Stack

COMMANDS = ("up", "down", "status", "reset-n8n", "postgres-url", "import-flows")


LABEL_WIDTH = 20


def line(label: str, value: str) -> str:
    """One labelled line of `make up`'s answer: `label   URL` (DESIGN.md, wave 2)."""
    return f"  {label:<{LABEL_WIDTH}}{value}"


def print_addresses(stack: Stack, demo_lines: list[str]) -> None:
    public = stack.public_url
    print()
    print("HybridFlow is up.")
    print(line("Evolution webhook", f"{public}webhook/evolution   (POST, header X-Webhook-Secret)"))
    print(line("admin API", f"{public}api/   (Authorization: Bearer ADMIN_TOKEN)"))
    print(line("console", f"{public}console/   (log in as the demo owner below)"))
    print(line("n8n editor", f"{stack.url('n8n')}/   (login {stack.n8n_owner_email}; "
                             f"password: N8N_OWNER_PASSWORD in {stack.env_file.name})"))
    for name in stack.services:
        if stack.pidfile(name).exists():
            print(line(name, f"{stack.url(name)}/health"))
    print(line("door metrics", f"{stack.url('door_metrics')}/metrics   (Prometheus; loopback only, never public)"))
    print(line("logs", f"{stack.logs_dir}/"))
    print(line("admin token", f"{stack.env.get('ADMIN_TOKEN')}   (Authorization: Bearer ...)"))
    for demo_line in demo_lines:
        print(demo_line)


def up(stack: Stack) -> None:
    stack.up()
    log("the demo tenant on the sandbox...")
    print_addresses(stack, demo.ensure_demo(stack))
    log(f"up in {progress.elapsed():.1f}s; `make down` stops it")


def reset_n8n(stack: Stack) -> None:
    stopped = stack.reset_n8n()
    if stopped:
        log("stopped: " + ", ".join(stopped))
    log(f"n8n's database {stack.n8n_db} is empty again and its folder {stack.n8n_folder} removed; "
        "`make up` imports the flows and credentials into it")


def stop_after_key_mismatch(stack: Stack) -> None:
    """What runs was started with keys that do not fit: the next `make up`,
    after .env is put right, must start everything again, not leave it alone."""
    stopped = stack.down()
    if stopped:
        log("stopped " + ", ".join(stopped) + ": `make up` starts them again with the keys .env then holds")


def run(cmd: str, stack: Stack) -> int:
    if cmd == "up":
        up(stack)
    elif cmd == "down":
        stopped = stack.down()
        log("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif cmd == "status":
        for name, pid in stack.status().items():
            print(f"{name:<12} {'running, pid ' + str(pid) if pid else 'stopped'}")
    elif cmd == "reset-n8n":
        reset_n8n(stack)
    elif cmd == "postgres-url":
        # for `make test`: a server to create the test databases on
        stack.ensure_server()
        print(stack.server_url)
    elif cmd == "import-flows":
        stack.ensure_secrets()
        stack.ensure_postgres()
        stack.import_flows()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS, nargs="?", default="status")
    parser.add_argument("--since", type=float, help="epoch seconds the progress lines count from")
    args = parser.parse_args(argv)
    progress.start_clock(args.since)
    stack = Stack.from_environment()
    try:
        return run(args.command, stack)
    except keys.KeyMismatch as err:
        print("\n" + textwrap.fill(str(err), width=78, break_on_hyphens=False, break_long_words=False) + "\n",
              file=sys.stderr)
        if args.command == "up":
            stop_after_key_mismatch(stack)
        return 1
    except StepFailed as err:
        log(f"{args.command} stopped: {err}")
        if args.command == "up":
            log("what did start is still running: `make up` again continues, `make down` stops it")
        return 1


if __name__ == "__main__":
    sys.exit(main())
