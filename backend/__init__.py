"""Nearbank: nearest branches, ATMs and card repayment points for a bank's cardholders."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from sqlalchemy import text
from werkzeug.datastructures import ImmutableMultiDict

from backend import i18n
from backend.config import Config
from backend.errors import problem, register_error_handlers
from backend.extensions import api, db, jwt, limiter, limiter_only_where_named
from backend.geocoding import geocoder_extension
from backend.guards import database_unavailable, init_guards


class Parameters(ImmutableMultiDict):
    """Query and form parameters whose `get` of an absent key costs a dictionary look-up.

    werkzeug's `get` reads the key and catches the KeyError it raises, an HTTP exception built
    for each absent key; the argument parser asks for every field of a schema, present or not
    (16 absent ones on a plain nearby request, about 40 µs of it).
    """

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002
        if type is not None:
            return super().get(key, default, type) if key in self else default
        values = dict.get(self, key)  # a MultiDict keeps each key's values in a list
        return values[0] if values else default


class NearbankRequest(Request):
    parameter_storage_class = Parameters


class NearbankFlask(Flask):
    """Flask, with the answer to "is this hook a coroutine function?" kept per function.

    Flask asks it (`inspect.iscoroutinefunction`) for every hook and view on every request:
    seven times on a `/healthz` request here (more on an API request), about 5 µs of its 50 µs.
    The hooks and views are the same functions on every request, so the answer is too.
    """

    request_class = NearbankRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync_funcs: dict[Any, Any] = {}
        super().__init__(*args, **kwargs)

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._sync_funcs[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if len(self._sync_funcs) < 1024:  # a function made per request is not kept forever
            self._sync_funcs[func] = sync
        return sync


def create_app(config: Any = None) -> Flask:
    """Build the Flask app: extensions, blueprints, error handlers and CLI."""
    app = NearbankFlask(__name__)
    app.config.from_object(config if config is not None else Config())
    app.json.sort_keys = False
    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    db.init_app(app)
    jwt.init_app(app)
    limiter.init_app(app)
    limiter_only_where_named(app)
    geocoder_extension.init_app(app)
    i18n.init_app(app)
    api.init_app(app)
    register_error_handlers(app, api)
    init_guards(app)

    from backend.accounts.auth import init_auth
    from backend.accounts.me_routes import blp as me_blp
    from backend.accounts.routes import blp as auth_blp
    from backend.cli import register_cli
    from backend.docs_page import blp as docs_blp
    from backend.offers.routes import merchants_blp, offers_blp, review_blp
    from backend.places.routes import blp as places_blp
    from backend.places.search import blp as search_blp
    from backend.privacy.routes import blp as privacy_blp
    from backend.queues.routes import blp as queues_blp
    from backend.queues.store import QueueStore
    from backend.uploads.routes import blp as uploads_blp

    init_auth(app)
    QueueStore().init_app(app)
    api.register_blueprint(auth_blp)
    api.register_blueprint(places_blp)
    api.register_blueprint(search_blp)
    api.register_blueprint(me_blp)
    api.register_blueprint(merchants_blp)
    api.register_blueprint(review_blp)
    api.register_blueprint(offers_blp)
    api.register_blueprint(uploads_blp)
    api.register_blueprint(privacy_blp)
    app.register_blueprint(docs_blp)
    api.register_blueprint(queues_blp)
    _register_operational_routes(app)
    register_cli(app)
    return app


def _register_operational_routes(app: Flask) -> None:
    from backend.migrate import current_revision, head_revision

    @app.get("/healthz")
    def healthz():
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """The database answers and its schema is at the newest migration."""
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                current = current_revision(conn)
        except Exception:  # any failure to reach the database means "not ready"
            return database_unavailable()
        head = head_revision()
        if current != head:
            response = problem(503, "Service Unavailable",
                               f"The database schema is at {current}, the code expects {head}.")
            response.headers["Retry-After"] = str(app.config["DB_RETRY_AFTER_SECONDS"])
            return response
        return {"status": "ready", "migration": current}
