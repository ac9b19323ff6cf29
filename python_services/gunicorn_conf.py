"""gunicorn settings shared by every service; the Makefile passes the app.
workers x threads stays under the database's connection limit: each worker
opens its own pool (DB_POOL_MAX) after the fork."""
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
