"""gunicorn settings shared by every service; the Makefile passes the app.

Connections: each worker opens its own pool after the fork and keeps up to
DB_POOL_MAX connections, by default its GUNICORN_THREADS (config.py reads the
same variable), so a worker's threads never wait for each other. A service thus
holds up to workers x threads sessions, and the services that use the database
(collision, llm, evolution) together hold 3 x workers x threads, 48 with the
defaults below, and the console 2 x 4 more (ops/stack.py gives it 4 threads). Keep that, plus n8n's own pool and some room for psql and
migrations, under Postgres' max_connections (100 by default). A smaller
DB_POOL_MAX is allowed: a request then waits up to DB_POOL_TIMEOUT_SECONDS
for a connection, then gets 503 database_busy.

Metrics: each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode; common/metrics.py sums them for
GET /metrics). The master empties that folder when the service starts (the
previous run's workers are gone) and drops a dead worker's gauges. `make up`
gives each service a folder of its own (ops/stack.py), compose sets one in
the container; unset, the master makes a temporary one and removes it at exit."""
import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
# a presence call holds the connection open for the typing delay
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
keepalive = 75
accesslog = None  # the app writes its own JSON request lines
errorlog = "-"
preload_app = False  # pools open after the fork
# gunicorn 27's control socket defaults to one path per user: several services
# (and test stacks) on one machine would fight over it, and none is used
control_socket_disable = True

# set before any worker forks (and imports prometheus_client, which reads it once)
_made_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _made_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="hybridflow-metrics-")


def on_starting(server):
    """The folder exists and holds nothing of an earlier run (its counters would add up forever)."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker that died no longer counts in the gauges of what is live (connections in use)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
