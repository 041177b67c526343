"""A private PostgreSQL + PostGIS cluster in a folder of ours, for `make run` and the tests.

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` system
user that Debian's package creates. The cluster listens on 127.0.0.1 only, on its own port, and
has no Unix socket, so it never collides with a server already on the machine.

Nobody else on the machine gets in: every connection needs a password (`scram-sha-256`), and the
generated passwords live in a 0600 file next to the data folder. Three roles: the superuser
(creates the database and the PostGIS extension), `nearbank_owner` (owns the database and its
tables; migrations run as it) and `nearbank_app` (what the app connects as: it owns nothing and
may only read and write rows).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/{v}/bin",)
PG_VERSIONS = ("17", "16", "15")
DB_NAME = "nearbank"
SUPERUSER = "postgres"
OWNER = "nearbank_owner"
APP = "nearbank_app"
FALLBACK_ROOT = Path("/var/lib/nearbank")
# Unique-key violations carry the duplicate value (an e-mail address) in their DETAIL line, and a
# failed statement could carry literals: the server log gets neither.
QUIET_LOG = "-c log_error_verbosity=terse -c log_min_error_statement=panic"


def write_private_file(path: Path, text: str) -> None:
    """Create `path` with mode 0600 from the start (never a moment readable by others)."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


@dataclass(frozen=True)
class Cluster:
    """Where a private cluster lives and how to reach it as each of its roles."""

    datadir: Path
    port: int
    passwords: dict[str, str] = field(repr=False)

    def role_url(self, role: str, database: str = DB_NAME) -> str:
        return (f"postgresql+psycopg://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/"
                f"{database}")

    @property
    def url(self) -> str:
        """The app's URL: a role that may only read and write rows."""
        return self.role_url(APP)

    @property
    def owner_url(self) -> str:
        """The migrations' URL: the role that owns the database and its tables."""
        return self.role_url(OWNER)

    @property
    def admin_url(self) -> str:
        """The superuser's URL (creating scratch databases in tests and benchmarks)."""
        return self.role_url(SUPERUSER)


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
    FALLBACK_ROOT.chmod(0o755)
    # The folder of the cluster and its log belongs to the server user alone.
    _chown_to_server_user(real.parent)
    real.parent.chmod(0o700)
    datadir.symlink_to(real, target_is_directory=True)
    print(f"{datadir.parent} is not reachable by the postgres user; the cluster lives in {real}",
          file=sys.stderr)
    return real


def ensure_cluster(datadir: Path, port: int | None = None, durable: bool = True) -> Cluster:
    """Create the cluster on first use, start it if stopped, and make sure the database exists.

    `durable=False` turns off fsync: for throw-away clusters (the tests) only.
    """
    port_file = datadir.parent / (datadir.name + ".port")
    password_file = datadir.parent / (datadir.name + ".passwords")
    datadir = _place_datadir(datadir)
    bindir = pg_bindir()
    if not (datadir / "PG_VERSION").exists():
        passwords = {role: secrets.token_urlsafe(32) for role in (SUPERUSER, OWNER, APP)}
        password_file.unlink(missing_ok=True)
        write_private_file(password_file,
                           "".join(f"{role} {pw}\n" for role, pw in passwords.items()))
        datadir.mkdir(parents=True, exist_ok=True)
        _chown_to_server_user(datadir)
        os.chmod(datadir, 0o700)
        _initdb(bindir, datadir, passwords[SUPERUSER])
        port_file.unlink(missing_ok=True)
        write_private_file(port_file, str(port or free_port()))
    if not password_file.exists():
        raise RuntimeError(f"{datadir} has no password file {password_file}: it was made by an "
                           "older version that trusted every local user; remove it "
                           "(`make clean`) and start again")
    cluster = Cluster(datadir, int(port_file.read_text()), _read_passwords(password_file))
    if not _is_running(datadir):
        log = datadir.parent / (datadir.name + ".log")
        if not log.exists():
            write_private_file(log, "")
        _chown_to_server_user(log)
        options = (f"-p {cluster.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories='' {QUIET_LOG}")
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
    _ensure_database(cluster)
    return cluster


def _initdb(bindir: Path, datadir: Path, superuser_password: str) -> None:
    """initdb with password authentication for every connection from the start.

    initdb runs as the server user, which cannot read our 0600 files: the superuser's password
    goes through a file of its own in a private folder, removed right after.
    """
    with tempfile.TemporaryDirectory(prefix="nearbank-initdb-") as folder:
        pwfile = Path(folder) / "pw"
        write_private_file(pwfile, superuser_password + "\n")
        _chown_to_server_user(Path(folder))
        _chown_to_server_user(pwfile)
        subprocess.run(
            _as_server_user([
                str(bindir / "initdb"), "-D", str(datadir), "--auth=scram-sha-256",
                f"--username={SUPERUSER}", f"--pwfile={pwfile}", "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )


def _read_passwords(path: Path) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())
    return {role: password for role, password in pairs}


def _ensure_database(cluster: Cluster) -> None:
    """Roles, the database, PostGIS and the app role's rights; idempotent."""
    import psycopg
    from psycopg import sql

    def connect(database: str):
        return psycopg.connect(host="127.0.0.1", port=cluster.port, user=SUPERUSER,
                               password=cluster.passwords[SUPERUSER], dbname=database,
                               autocommit=True)

    with connect("postgres") as conn:
        for role in (OWNER, APP):
            verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                           (role,)).fetchone() else "CREATE"
            conn.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                 "PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(role), sql.Literal(cluster.passwords[role])))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DB_NAME), sql.Identifier(OWNER)))
    owner, app, db = (sql.Identifier(name) for name in (OWNER, APP, DB_NAME))
    with connect(DB_NAME) as conn:
        for statement in (
            "CREATE EXTENSION IF NOT EXISTS postgis",
            "REVOKE CONNECT ON DATABASE {db} FROM PUBLIC",
            "GRANT CONNECT ON DATABASE {db} TO {owner}, {app}",
            "ALTER SCHEMA public OWNER TO {owner}",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            "GRANT USAGE ON SCHEMA public TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ):
            conn.execute(sql.SQL(statement).format(db=db, owner=owner, app=app))


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
            for suffix in (".port", ".log", ".passwords"):
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
