"""gunicorn settings for `make run` and the benchmarks; the environment can override them."""

import os

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
# %(U)s is the path without its query string: the nearby endpoints carry the cardholder's
# position in the query, and it must never reach a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
graceful_timeout = 5
