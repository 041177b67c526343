"""SQLAlchemy 2 engine and session bound to the Flask app."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every model."""


class Database:
    """One engine per process and a thread-scoped session removed at the end of each request."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session: scoped_session[Session] = scoped_session(
            sessionmaker(expire_on_commit=False)
        )

    def init_app(self, app: Flask) -> None:
        url = app.config.get("SQLALCHEMY_DATABASE_URI")
        if not url:
            raise RuntimeError("DATABASE_URL is not set")
        # One pooled connection per worker thread: opening a connection per request costs far
        # more than the nearby query itself.
        self.engine = create_engine(
            url,
            pool_size=app.config.get("DB_POOL_SIZE", 8),
            max_overflow=4,
            pool_recycle=1800,
            # Bound values (a query point, say) never appear in SQL error messages or logs.
            hide_parameters=True,
            connect_args={"application_name": "nearbank"},
        )
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(lambda exc: self.session.remove())
