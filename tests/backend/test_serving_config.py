"""Settings of the serving stack that need no running server: the front's rendered
configuration and the rate-limit storage URI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from backend.config import limits_storage_uri
from backend.frontproxy import FrontSettings, nginx_binary, render


def test_redis_urls_become_flask_limiter_storage_uris():
    assert limits_storage_uri(None) == "memory://"
    assert limits_storage_uri("unix:///srv/var/redis/redis.sock") == \
        "redis+unix:///srv/var/redis/redis.sock"
    assert limits_storage_uri("redis://cache.internal:6379/2") == "redis://cache.internal:6379/2"
    assert limits_storage_uri("rediss://cache.internal:6380") == "rediss://cache.internal:6380"


def _settings(tmp_path: Path, **kwargs) -> FrontSettings:
    return FrontSettings(folder=tmp_path / "front", port=18000,
                         upstreams=[tmp_path / "a.sock", "127.0.0.1:9001"], **kwargs)


def test_the_front_listens_on_loopback_without_tls_by_default(tmp_path):
    conf = render(_settings(tmp_path))
    assert "listen 127.0.0.1:18000;" in conf
    assert f"server unix:{(tmp_path / 'a.sock').resolve()};" in conf
    assert "server 127.0.0.1:9001;" in conf
    assert "ssl_certificate" not in conf and "Strict-Transport-Security" not in conf
    assert "set_real_ip_from" not in conf
    assert ("user root root;" in conf) == (os.geteuid() == 0)
    # Only the path reaches the access log.
    assert '"$request_method $uri"' in conf and "$request_uri" not in conf
    assert "$remote_addr " not in conf.split("log_format", 1)[1].split(";", 1)[0]


def test_tls_balancers_and_host_are_rendered_and_valid_for_nginx(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    settings = _settings(tmp_path, tls_cert=cert, tls_key=key, host="::1",
                         trusted_proxies=["10.0.0.0/8", "192.0.2.1"])
    conf = render(settings)
    assert "listen [::1]:18000 ssl;" in conf
    assert "add_header Strict-Transport-Security" in conf
    assert "set_real_ip_from 10.0.0.0/8;" in conf and "set_real_ip_from 192.0.2.1;" in conf
    folder = settings.folder
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / name).mkdir(parents=True)
    (folder / "nginx.conf").write_text(conf)
    check = subprocess.run([nginx_binary(), "-t", "-q", "-p", str(folder), "-c",
                            str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORT", "18123")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "10485760")
    monkeypatch.setenv("FRONT_TRUSTED_PROXIES", "10.1.0.0/16 10.2.0.0/16")
    monkeypatch.delenv("TLS_CERT_FILE", raising=False)
    monkeypatch.delenv("TLS_KEY_FILE", raising=False)
    settings = FrontSettings.from_env(tmp_path, [tmp_path / "g.sock"])
    assert (settings.port, settings.upload_max_body, settings.scheme) == (18123, 10485760, "http")
    assert settings.trusted_proxies == ["10.1.0.0/16", "10.2.0.0/16"]
    assert "client_max_body_size 10485760;" in render(settings)


def test_workers_take_the_loaded_app_out_of_the_garbage_collectors_walks():
    import gc

    from backend import gunicorn_conf

    assert gc.get_freeze_count() == 0
    try:
        gunicorn_conf.post_worker_init(worker=None)
        # Everything alive when the worker is ready: the collector's full runs skip it.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
