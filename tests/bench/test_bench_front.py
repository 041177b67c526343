"""`make bench BENCH_ARGS=--via-front`: the benchmark's server behind the same nginx front."""

from bench.httpbench import Gunicorn, get_json


def test_the_benchmark_server_can_be_measured_through_the_front(app_database_url, tmp_path):
    with Gunicorn(app_database_url, 1, 2, tmp_path / "gunicorn.log", via_front=True) as server:
        assert server.port != server.gunicorn_port
        assert get_json(server.port, "/healthz") == (200, {"status": "ok"})
        assert get_json(server.gunicorn_port, "/healthz") == (200, {"status": "ok"})
        front_port = server.port
    access = (tmp_path / "front" / "access.log").read_text()
    assert '"GET /healthz" 200' in access
    assert server.front is None and server.port != front_port
