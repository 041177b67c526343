"""The front proxy: nginx from a template in deploy/, with its own prefix in a folder of ours.

`make run` and the tests start it the same way. It listens on 127.0.0.1 (HTTP, or HTTPS with
HSTS when a certificate and key are given) and passes requests to gunicorn instances on Unix
sockets. nginx runs in the foreground as our child (`daemon off`); its pid file lets `make stop`
find it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_UPLOAD_BYTES, body_limits
from backend.pgcluster import write_private_file

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"

TLS = """\
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:tls:1m;
        add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
"""


@dataclass(frozen=True)
class FrontSettings:
    """What the front needs to know: times in nginx's units (10s), body sizes in bytes."""

    folder: Path
    port: int
    upstreams: list[Path | str]  # Unix socket paths, or "host:port"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Bytes; the app's own limits (MAX_JSON_BYTES, MAX_UPLOAD_BYTES), so the two never disagree.
    json_max_body: int = DEFAULT_MAX_JSON_BYTES
    upload_max_body: int = DEFAULT_MAX_UPLOAD_BYTES
    header_timeout: str = "10s"
    body_timeout: str = "10s"
    worker_processes: int = 1
    host: str = "127.0.0.1"  # FRONT_HOST: another address only when configured
    # Load balancers in front of nginx (addresses or CIDRs): their X-Forwarded-For is the client.
    trusted_proxies: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, folder: Path, upstreams: list[Path | str]) -> FrontSettings:
        env = os.environ
        cert, key = env.get("TLS_CERT_FILE"), env.get("TLS_KEY_FILE")
        json_max, upload_max = body_limits()
        if bool(cert) != bool(key):
            raise RuntimeError("TLS needs both TLS_CERT_FILE and TLS_KEY_FILE")
        return cls(
            folder=folder, port=int(env.get("PORT", "8000")), upstreams=upstreams,
            tls_cert=Path(cert) if cert else None, tls_key=Path(key) if key else None,
            json_max_body=json_max, upload_max_body=upload_max,
            header_timeout=env.get("CLIENT_HEADER_TIMEOUT", "10s"),
            body_timeout=env.get("CLIENT_BODY_TIMEOUT", "10s"),
            worker_processes=int(env.get("FRONT_WORKERS", "1")),
            trusted_proxies=env.get("FRONT_TRUSTED_PROXIES", "").split(),
            host=env.get("FRONT_HOST", "127.0.0.1"),
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        raise RuntimeError("nginx is not installed (make system-deps installs it)")
    return path


def _upstream(server: Path | str) -> str:
    if isinstance(server, Path) or str(server).startswith("/"):
        return f"unix:{Path(server).resolve()}"
    return str(server)


def render(settings: FrontSettings) -> str:
    """The nginx.conf for these settings."""
    folder = settings.folder.resolve()
    tls = ""
    if settings.tls_cert:
        tls = TLS.format(cert=Path(settings.tls_cert).resolve(),
                         key=Path(settings.tls_key).resolve())
    values = {
        # As root, nginx's workers would switch to `nobody`, who cannot enter our 0700 folders
        # (gunicorn's socket, the buffers): they stay with the user that runs the stack.
        "user": "user root root;" if os.geteuid() == 0 else "",
        "worker_processes": str(settings.worker_processes),
        "folder": str(folder),
        "port": str(settings.port),
        "host": f"[{settings.host}]" if ":" in settings.host else settings.host,
        "listen_tls": " ssl" if settings.tls_cert else "",
        "tls": tls,
        "upstream_servers": "\n".join(f"        server {_upstream(s)};"
                                      for s in settings.upstreams),
        "json_max_body": settings.json_max_body,
        "upload_max_body": settings.upload_max_body,
        "header_timeout": settings.header_timeout,
        "body_timeout": settings.body_timeout,
        "real_ip": "".join(f"    set_real_ip_from {p};\n" for p in settings.trusted_proxies)
        + ("    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;"
           if settings.trusted_proxies else ""),
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    missing = re.findall(r"\{\{[a-z_]+\}\}", text)
    if missing:
        raise RuntimeError(f"nginx template fields without a value: {missing}")
    return text


def start_front(settings: FrontSettings, timeout: float = 20.0) -> subprocess.Popen:
    """Write the configuration, check it, start nginx and wait until it accepts connections."""
    old_umask = os.umask(0o077)
    try:
        folder = settings.folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / "tmp" / name).mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = folder / "nginx.conf"
        conf.unlink(missing_ok=True)
        write_private_file(conf, render(settings))
        command = [nginx_binary(), "-p", str(folder.resolve()), "-c", str(conf.resolve()),
                   "-e", str(folder.resolve() / "error.log")]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx configuration is invalid: {check.stderr.strip()}")
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    finally:
        os.umask(old_umask)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited at start (see {folder / 'error.log'})")
        try:
            probe = "127.0.0.1" if settings.host in ("0.0.0.0", "127.0.0.1") else settings.host
            with socket.create_connection((probe, settings.port), timeout=1):
                return proc
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise RuntimeError(f"nginx did not listen on port {settings.port}") from None
            time.sleep(0.05)


def stop_front(folder: Path, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> bool:
    """Stop nginx gracefully (SIGQUIT): ours by handle, or the one whose pid file is in folder."""
    pid = proc.pid if proc is not None else _pid(folder)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return False
    if proc is not None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _pid(folder: Path) -> int | None:
    try:
        pid = int((folder / "nginx.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None
