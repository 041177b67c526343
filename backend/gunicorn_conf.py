"""gunicorn settings for `make run` and the benchmarks; the environment can override them.

`make run` binds a Unix socket under var/ that only the front proxy uses (BIND=unix:...);
without BIND it listens on 127.0.0.1:$PORT (the benchmarks' straight-to-gunicorn figures).
"""

import gc
import os

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
# %(U)s is the path without its query string: the nearby endpoints carry the cardholder's
# position in the query, and it must never reach a log. No client address either: the front's
# access log has the client's network, shortened.
access_log_format = '"%(m)s %(U)s" %(s)s %(B)s %(M)sms'
graceful_timeout = 5
# Sockets gunicorn creates (its own and the control socket) are for our user alone.
umask = 0o077
# One control socket per instance (GUNICORN_CONTROL_SOCKET, `make run`: var/run/), never the
# shared per-user default that two instances would overwrite; none when not given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
    control_socket_mode = 0o600
else:
    control_socket_disable = True


def post_worker_init(worker) -> None:
    """Once the worker has loaded the app: move every object alive now (modules, the app, the
    schemas, the OpenAPI document, the region shapes: about 185,000 objects) out of the cyclic
    garbage collector's reach. Otherwise each full collection walks them all, a pause of about
    0.1 s every few hundred requests (about 100 µs a request on average, and a latency spike);
    those objects live as long as the worker anyway."""
    gc.collect()
    gc.freeze()
