"""A private Redis in a folder of ours, for `make run` and the tests, like the private cluster.

It listens on a Unix socket only (no TCP port), mode 0700 in a 0700 folder, so only our own user
reaches it. It holds rate-limit counts and branches' live queue state, nothing that must survive
a restart: no snapshots, no append-only file (a restart forgets the counts of the current minute,
the queues until their systems' next reports, and at most a minute of typical-wait sums).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from backend.pgcluster import write_private_file

CONFIG = """\
# Written by backend/rediscluster.py; rewritten on every start.
port 0
unixsocket {socket}
unixsocketperm 700
daemonize yes
pidfile {pidfile}
logfile {logfile}
dir {folder}
save ""
appendonly no
maxmemory 64mb
maxmemory-policy volatile-ttl
"""


def redis_server() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(path).exists():
        raise RuntimeError("redis-server is not installed (make system-deps installs it)")
    return path


def socket_path(folder: Path) -> Path:
    return folder.resolve() / "redis.sock"


def url_for(folder: Path) -> str:
    """The REDIS_URL of the server in `folder` (redis-py's unix:// form)."""
    return f"unix://{socket_path(folder)}"


def _pid(folder: Path) -> int | None:
    try:
        pid = int((folder / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _answers(folder: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path(folder)),
                                socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(folder: Path, timeout: float = 20.0) -> str:
    """Start the server in `folder` unless it runs already; returns its REDIS_URL."""
    old_umask = os.umask(0o077)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        if _pid(folder) is not None and _answers(folder):
            return url_for(folder)
        config = folder / "redis.conf"
        config.unlink(missing_ok=True)
        write_private_file(config, CONFIG.format(
            socket=socket_path(folder), pidfile=folder.resolve() / "redis.pid",
            logfile=folder.resolve() / "redis.log", folder=folder.resolve()))
        subprocess.run([redis_server(), str(config)], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _answers(folder):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis in {folder} did not answer in {timeout:.0f}s")
            time.sleep(0.05)
        return url_for(folder)
    finally:
        os.umask(old_umask)


def stop_redis(folder: Path, timeout: float = 10.0) -> bool:
    """Stop the server in `folder` if it runs; True when it was running."""
    pid = _pid(folder)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    raise RuntimeError(f"Redis (pid {pid}) did not stop in {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    """`python -m backend.rediscluster start|stop DIR`."""
    parser = argparse.ArgumentParser(prog="python -m backend.rediscluster")
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print("stopped" if stop_redis(args.folder) else "not running", file=sys.stderr)
        return 0
    print(ensure_redis(args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
