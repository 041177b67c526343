"""SQLAlchemy 2 engine and session bound to the Flask app."""

from __future__ import annotations

import uuid
from typing import TypeVar

from flask import Flask
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every model."""


Model = TypeVar("Model", bound=Base)


def get_by_public_id(session: Session, model: type[Model], public_id: str, what: str) -> Model:
    """The `model` row with this public id.

    :raises NotFound: when the id is malformed or no row has it.
    """
    from backend.errors import NotFound

    try:
        key = uuid.UUID(public_id)
    except ValueError:
        raise NotFound(f"No {what} has this id.") from None
    row = session.scalars(select(model).where(model.public_id == key)).first()
    if row is None:
        raise NotFound(f"No {what} has this id.")
    return row


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
            # A pooled connection is checked before use: after the database restarts, the
            # first request gets a fresh connection instead of a dead one.
            pool_pre_ping=True,
            pool_timeout=app.config.get("DB_POOL_TIMEOUT", 2),
            # Bound values (a query point, say) never appear in SQL error messages or logs.
            hide_parameters=True,
            connect_args={"application_name": "nearbank",
                          "connect_timeout": app.config.get("DB_CONNECT_TIMEOUT", 1)},
        )
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(lambda exc: self.session.remove())
