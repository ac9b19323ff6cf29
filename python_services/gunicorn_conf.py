"""gunicorn settings shared by every service; the Makefile passes the app.

Connections: each worker opens its own pool after the fork and keeps up to
DB_POOL_MAX connections, by default its GUNICORN_THREADS (config.py reads the
same variable), so a worker's threads never wait for each other. A service thus
holds up to workers x threads sessions, and the services that use the database
(collision, llm, evolution) together hold 3 x workers x threads, 48 with the
defaults below. Keep that, plus n8n's own pool and some room for psql and
migrations, under Postgres' max_connections (100 by default). A smaller
DB_POOL_MAX is allowed: a request then waits up to DB_POOL_TIMEOUT_SECONDS
for a connection, then gets 503 database_busy."""
import os

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
