"""make up / make down: processes start detached with pid files, a second
start is a no-op, and down stops exactly what up started (the whole group)."""
import os
import socket
import sys
import time

import pytest

from ops import procs
from ops.stack import Stack
from tests.conftest import SECRET_KEY


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack(tmp_path, clean_db):
    st = Stack(data_dir=tmp_path, ports={"collision": _free_port()}, services=("collision",),
               env={"SERVICE_TOKEN": "t", "ADMIN_TOKEN": "a", "N8N_ENCRYPTION_KEY": "k", "GUNICORN_WORKERS": "2",
                    "HYBRIDFLOW_SECRET_KEYS": SECRET_KEY})
    st.server_url = clean_db.rsplit("/", 1)[0] + "/postgres"
    st.app_db = clean_db.rsplit("/", 1)[1]
    yield st
    st.down()


def _group_members(pgid):
    return [int(p.name) for p in os.scandir("/proc") if p.name.isdigit() and procs._pgid_of(int(p.name)) == pgid]


def test_services_start_once_answer_health_and_stop_without_leaving_a_process(stack):
    stack.start_services()
    pid = procs.read_pid(stack.pidfile("collision"))
    assert pid and procs.http_ok(stack.url("collision") + "/health")
    members = _group_members(pid)
    assert len(members) >= 3  # gunicorn master and its two workers

    stack.start_services()  # running twice is safe: same process
    assert procs.read_pid(stack.pidfile("collision")) == pid

    assert stack.down() == ["collision"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(procs.is_alive(m) for m in members):
        time.sleep(0.1)
    assert not any(procs.is_alive(m) for m in members)
    assert not stack.pidfile("collision").exists()
    assert stack.down() == []  # nothing left to stop


def test_a_process_that_dies_at_start_is_reported_with_its_log(tmp_path):
    pidfile, log = tmp_path / "x.pid", tmp_path / "x.log"
    procs.start("x", [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
                dict(os.environ), log, pidfile)
    with pytest.raises(RuntimeError, match="boom: bad config"):
        procs.wait_until("x", lambda: False, timeout=10, pidfile=pidfile, log_file=log)
