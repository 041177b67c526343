"""`make run`: database, Redis, schema, sample data, demo users, then gunicorn behind nginx and
the queue simulator reporting live waits for the sample branches.

When DATABASE_URL / REDIS_URL are not set, a private PostGIS cluster and a private Redis are
created (first run) or started (later runs) under var/. Everything is idempotent: a second run
loads nothing twice. The process stays in the foreground: Ctrl-C (or `make stop`) stops the front
and gunicorn; `make stop` also stops Redis and PostgreSQL, `make clean` removes them.

    python -m backend.serve          # run (what `make run` does)
    python -m backend.serve stop     # stop everything `make run` started
    python -m backend.serve clean    # stop it and delete the private services' data
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from backend.pgcluster import write_private_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "branches" / "sample.csv"

DEMO_USERS = (
    ("cardholder@example.com", "cardholder", "demo-cardholder-1", "platinum"),
    ("maintainer@example.com", "maintainer", "demo-maintainer-1", None),
    ("merchant@example.com", "merchant", "demo-merchant-1", None),
    ("reviewer@example.com", "reviewer", "demo-reviewer-1", None),
    ("admin@example.com", "admin", "demo-admin-1", None),
)


def var_path() -> Path:
    """Where the private services and local secrets live (NEARBANK_VAR, default ./var)."""
    return Path(os.environ.get("NEARBANK_VAR", ROOT / "var"))


def var_dir() -> Path:
    """var_path(), created 0700 (only our user may enter it)."""
    path = var_path()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def use_private_services(var: Path, create: bool = True) -> None:
    """Point DATABASE_URL, DATABASE_OWNER_URL, REDIS_URL and JWT_SECRET_KEY at var/'s services.

    Settings given in the environment win. With `create=False` (the `flask` commands) only
    services that `make run` created already are used (and started again if they were stopped).
    """
    from backend.pgcluster import ensure_cluster
    from backend.rediscluster import ensure_redis

    old_umask = os.umask(0o077)
    try:
        if not os.environ.get("DATABASE_URL") and (create or (var / "pgdata.port").exists()):
            cluster = ensure_cluster(var / "pgdata")
            os.environ["DATABASE_URL"] = cluster.url
            os.environ.setdefault("DATABASE_OWNER_URL", cluster.owner_url)
            if create:
                print(f"private PostGIS cluster on 127.0.0.1:{cluster.port} ({var / 'pgdata'})")
        if not os.environ.get("REDIS_URL") and (create or (var / "redis").is_dir()):
            os.environ["REDIS_URL"] = ensure_redis(var / "redis")
            if create:
                print(f"private Redis on {os.environ['REDIS_URL']}")
        if not os.environ.get("JWT_SECRET_KEY"):
            secret_file = var / "jwt-secret"
            if create and not secret_file.exists():
                import secrets

                write_private_file(secret_file, secrets.token_urlsafe(48))
            if secret_file.exists():
                os.environ["JWT_SECRET_KEY"] = secret_file.read_text().strip()
    finally:
        os.umask(old_umask)


def prepare() -> None:
    """Set the services' URLs, migrate, load the sample, create demo users."""
    from backend import create_app
    from backend.config import Config
    from backend.migrate import upgrade

    use_private_services(var_dir())
    upgrade(os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"])
    print("database schema is current")

    app = create_app(Config())
    from backend.accounts import service as accounts
    from backend.extensions import db
    from backend.uploads.loader import count_places, load_places_file

    with app.app_context():
        if count_places(db.session) == 0:
            report = load_places_file(db.session, SAMPLE)
            print(f"sample data {SAMPLE.relative_to(ROOT)}: {report.summary()}")
        else:
            print("places exist already; sample data not loaded again")
        print("demo users (e-mail / password):")
        for email, role, password, tier in DEMO_USERS:
            if accounts.find_user_by_email(db.session, email) is None:
                accounts.create_user(db.session, email, password, role, role.title(), tier)
            print(f"  {role:<11} {email:<24} {password}")
        db.engine.dispose()


def start_gunicorn(run_dir: Path, env: dict[str, str] | None = None,
                   name: str = "gunicorn", timeout: float = 60.0) -> tuple[subprocess.Popen, Path]:
    """gunicorn on a Unix socket in run_dir, with its own control socket and pid file."""
    sock = run_dir / f"{name}.sock"
    sock.unlink(missing_ok=True)
    child_env = dict(os.environ if env is None else env)
    child_env.update(BIND=f"unix:{sock}", GUNICORN_CONTROL_SOCKET=str(run_dir / f"{name}.ctl"))
    child_env.setdefault("PROXY_HOPS", "1")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "--config", "python:backend.gunicorn_conf",
                             "backend.wsgi:app"], env=child_env, cwd=ROOT)
    pidfile = run_dir / f"{name}.pid"  # ours: gunicorn's own pid file is world-readable
    pidfile.unlink(missing_ok=True)
    write_private_file(pidfile, str(proc.pid))
    wait_for_unix_socket(sock, proc, timeout)
    return proc, sock


def wait_for_unix_socket(sock: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start (status {proc.returncode})")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not listen on {sock}") from None
            time.sleep(0.1)


def start_queue_simulator(run_dir: Path) -> subprocess.Popen | None:
    """`flask queue simulate` in the background, so branches show live waits (QUEUE_SIMULATOR=0
    turns it off: a real queue system then reports through the API)."""
    if os.environ.get("QUEUE_SIMULATOR", "1") == "0":
        return None
    ready = run_dir / "queue-simulator.ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "backend.wsgi", "queue",
                             "simulate", "--seed", os.environ.get("QUEUE_SIMULATOR_SEED", "1"),
                             "--ready-file", str(ready)], cwd=ROOT)
    pidfile = run_dir / "queue-simulator.pid"
    pidfile.unlink(missing_ok=True)
    write_private_file(pidfile, str(proc.pid))
    # Serve once the first waits are stored, so the first request already shows them.
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not ready.exists():
        print("the queue simulator has not reported yet; waits show as unknown until it does",
              file=sys.stderr)
    return proc


def _stop_child(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve() -> int:
    """Start gunicorn, the front and the queue simulator; stay until Ctrl-C / SIGTERM."""
    from backend.frontproxy import FrontSettings, start_front, stop_front

    var = var_dir()
    run_dir = var / "run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    gunicorn, sock = start_gunicorn(run_dir)
    front = simulator = None
    try:
        simulator = start_queue_simulator(run_dir)
        settings = FrontSettings.from_env(var / "front", [sock])
        front = start_front(settings)
        (run_dir / "serve.pid").unlink(missing_ok=True)
        write_private_file(run_dir / "serve.pid", str(os.getpid()))
        print(f"serving on {settings.scheme}://127.0.0.1:{settings.port} (nginx, access log "
              f"{settings.folder / 'access.log'}) -> gunicorn on {sock}; Ctrl-C stops",
              flush=True)
        while not stopping and gunicorn.poll() is None and front.poll() is None:
            time.sleep(0.2)
    finally:
        if front is not None:
            stop_front(var / "front", front)
        _stop_child(simulator)
        (run_dir / "queue-simulator.pid").unlink(missing_ok=True)
        (run_dir / "queue-simulator.ready").unlink(missing_ok=True)
        if gunicorn.poll() is None:
            gunicorn.terminate()
        try:
            gunicorn.wait(30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait()
        (run_dir / "serve.pid").unlink(missing_ok=True)
        (run_dir / "gunicorn.pid").unlink(missing_ok=True)
    if not stopping:
        print("the front or gunicorn stopped by itself", file=sys.stderr)
        return 1
    print("stopped the front and gunicorn (PostgreSQL and Redis keep running: make stop)")
    return 0


def _signal_pidfile(path: Path, sig: int, timeout: float = 30.0) -> bool:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, sig)
    except (OSError, ValueError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.1)
    return True


def stop() -> None:
    """Stop all `make run` started: serve.py, the front, gunicorn, Redis, PostgreSQL."""
    from backend.frontproxy import stop_front
    from backend.pgcluster import stop_cluster
    from backend.rediscluster import stop_redis

    var = var_path()
    if not var.exists():
        return
    stopped = []
    if _signal_pidfile(var / "run" / "serve.pid", signal.SIGTERM):
        stopped.append("make run")
    if stop_front(var / "front"):
        stopped.append("front")
    if _signal_pidfile(var / "run" / "gunicorn.pid", signal.SIGTERM):
        stopped.append("gunicorn")
    if _signal_pidfile(var / "run" / "queue-simulator.pid", signal.SIGTERM):
        stopped.append("queue simulator")
    if stop_redis(var / "redis"):
        stopped.append("Redis")
    if (var / "pgdata").exists() and stop_cluster(var / "pgdata"):
        stopped.append("PostgreSQL")
    print("stopped: " + (", ".join(stopped) or "nothing was running"))


def clean() -> None:
    """stop(), then delete var/ (the private cluster's data too, wherever it lives)."""
    from backend.pgcluster import destroy_cluster

    stop()
    var = var_path()
    if not var.exists():
        return
    # Every private cluster under var/ (make run's, the benchmarks'): each has a .port file.
    for port_file in sorted(var.rglob("*.port")):
        datadir = port_file.with_suffix("")
        if datadir.exists() or datadir.is_symlink():
            destroy_cluster(datadir)
    shutil.rmtree(var, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    action = (argv if argv is not None else sys.argv[1:]) or ["run"]
    if action[0] == "stop":
        stop()
        return 0
    if action[0] == "clean":
        clean()
        return 0
    os.umask(0o077)
    prepare()
    sys.stdout.flush()
    return serve()


if __name__ == "__main__":
    sys.exit(main())
