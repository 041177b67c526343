"""A private PostgreSQL + PostGIS cluster in a folder of ours, for `make run` and the tests.

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` system
user that Debian's package creates. The cluster listens on 127.0.0.1 only, on its own port, and
has no Unix socket, so it never collides with a server already on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/{v}/bin",)
PG_VERSIONS = ("17", "16", "15")
DB_NAME = "nearbank"
FALLBACK_ROOT = Path("/var/lib/nearbank")


@dataclass(frozen=True)
class Cluster:
    """Where a private cluster lives and how to reach it."""

    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DB_NAME}"


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries on the machine."""
    for version in PG_VERSIONS:
        for pattern in PG_BIN_CANDIDATES:
            path = Path(pattern.format(v=version))
            if (path / "initdb").exists():
                return path
    raise RuntimeError("no PostgreSQL server binaries found under /usr/lib/postgresql")


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _chown_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _is_running(datadir: Path) -> bool:
    result = subprocess.run(
        _as_server_user([str(pg_bindir() / "pg_ctl"), "status", "-D", str(datadir)]),
        capture_output=True,
    )
    return result.returncode == 0


def _wait_until_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            [str(pg_bindir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"]
        )
        if result.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL on port {port} did not become ready in {timeout:.0f}s")


def _reachable_by_server_user(folder: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(folder)])
    return probe.returncode == 0


def _place_datadir(datadir: Path) -> Path:
    """The real data folder: `datadir` itself, or a folder the server user can reach.

    A checkout under /root (mode 700) cannot be entered by the `postgres` user; the cluster
    then lives under /var/lib/nearbank and `datadir` becomes a link to it.
    """
    if datadir.is_symlink() or (datadir / "PG_VERSION").exists():
        return datadir.resolve()
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if _reachable_by_server_user(datadir.parent):
        return datadir.resolve()
    digest = hashlib.sha256(str(datadir.absolute()).encode()).hexdigest()[:12]
    real = FALLBACK_ROOT / digest / "pgdata"
    real.parent.mkdir(parents=True, exist_ok=True)
    for folder in (FALLBACK_ROOT, real.parent):
        folder.chmod(0o755)
    datadir.symlink_to(real, target_is_directory=True)
    print(f"{datadir.parent} is not reachable by the postgres user; the cluster lives in {real}",
          file=sys.stderr)
    return real


def ensure_cluster(datadir: Path, port: int | None = None, durable: bool = True) -> Cluster:
    """Create the cluster on first use, start it if stopped, and make sure the database exists.

    `durable=False` turns off fsync: for throw-away clusters (the tests) only.
    """
    port_file = datadir.parent / (datadir.name + ".port")
    datadir = _place_datadir(datadir)
    bindir = pg_bindir()
    if not (datadir / "PG_VERSION").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        _chown_to_server_user(datadir)
        os.chmod(datadir, 0o700)
        subprocess.run(
            _as_server_user([
                str(bindir / "initdb"), "-D", str(datadir), "--auth=trust", "--username=postgres",
                "--encoding=UTF8", "--locale=C.UTF-8",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
        port_file.write_text(str(port or free_port()))
    cluster = Cluster(datadir, int(port_file.read_text()))
    if not _is_running(datadir):
        log = datadir.parent / (datadir.name + ".log")
        log.touch()
        _chown_to_server_user(log)
        options = f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_server_user([
                str(bindir / "pg_ctl"), "start", "-D", str(datadir), "-l", str(log), "-w",
                "-o", options,
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
    _wait_until_ready(cluster.port)
    _ensure_database(cluster.port, DB_NAME)
    return cluster


def _ensure_database(port: int, name: str) -> None:
    import psycopg

    with psycopg.connect(
        f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def stop_cluster(datadir: Path) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    datadir = datadir.resolve()
    if not (datadir / "PG_VERSION").exists() or not _is_running(datadir):
        return False
    subprocess.run(
        _as_server_user([str(pg_bindir() / "pg_ctl"), "stop", "-D", str(datadir), "-m", "fast"]),
        check=True, stdout=subprocess.DEVNULL,
    )
    return True


def destroy_cluster(datadir: Path) -> None:
    """Stop the cluster and delete its folder (used for scratch clusters)."""
    stop_cluster(datadir)
    real = datadir.resolve()
    if datadir.is_symlink():
        datadir.unlink()
    shutil.rmtree(real, ignore_errors=True)
    for folder in {real.parent, datadir.parent}:
        for name in (real.name, datadir.name):
            for suffix in (".port", ".log"):
                (folder / (name + suffix)).unlink(missing_ok=True)
    if real.parent.parent == FALLBACK_ROOT:
        shutil.rmtree(real.parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m backend.pgcluster start|stop|url DIR`."""
    parser = argparse.ArgumentParser(prog="python -m backend.pgcluster")
    parser.add_argument("action", choices=("start", "stop", "url"))
    parser.add_argument("datadir", type=Path)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print("stopped" if stop_cluster(args.datadir) else "not running", file=sys.stderr)
        return 0
    cluster = ensure_cluster(args.datadir)
    print(cluster.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
