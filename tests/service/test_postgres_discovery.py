"""make up / make test on a machine where no Postgres answers: a private
cluster is initialised and started under the data folder, and stopped again."""
import os
import shutil
import socket
import tempfile
from pathlib import Path

import psycopg2
import pytest

from ops import postgres


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data_dir():
    # run as root, the cluster belongs to the postgres user, who must reach the
    # folder (pytest's own tmp folders are private to root)
    path = Path(tempfile.mkdtemp(prefix="hf-pg-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(postgres._pg_bin_dir() is None, reason="covered by the PyPI fallback path on such machines")
def test_a_private_cluster_starts_when_no_server_answers_and_stops_on_down(data_dir):
    tmp_path = data_dir
    port = _free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    assert not postgres.answers(url)
    started = postgres.start_private_cluster(tmp_path, port, tmp_path / "postgres.log")
    try:
        assert started == url
        assert postgres.ensure_database(url, "hybridflow") is True
        assert postgres.ensure_database(url, "hybridflow") is False  # twice is safe
        conn = psycopg2.connect(postgres.with_database(url, "hybridflow"))
        conn.close()
        # starting again while it runs is a no-op
        assert postgres.start_private_cluster(tmp_path, port, tmp_path / "postgres.log") == url
    finally:
        assert postgres.stop_private_cluster(tmp_path) is True
    assert not postgres.answers(url)
