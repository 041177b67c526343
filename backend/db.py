"""SQLAlchemy 2 engine and session bound to the Flask app."""

from __future__ import annotations

import select as select_
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, event, exc, select
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every model."""


Model = TypeVar("Model", bound=Base)
T = TypeVar("T")


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
            # A pooled connection is checked before use (see _check_on_checkout): after the
            # database restarts, the first request gets a fresh connection, not a dead one.
            pool_timeout=app.config.get("DB_POOL_TIMEOUT", 2),
            # Bound values (a query point, say) never appear in SQL error messages or logs.
            hide_parameters=True,
            connect_args={"application_name": "nearbank",
                          "connect_timeout": app.config.get("DB_CONNECT_TIMEOUT", 1)},
        )
        event.listen(self.engine, "checkout", _check_on_checkout)
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(lambda exc: self.session.remove())

    @contextmanager
    def read_source(self) -> Iterator[psycopg.Connection | Session]:
        """Where a read-only request reads: a pooled driver connection (driver_connection),
        or the scoped session when it is bound to one connection in a transaction of its own
        (the test suite pins each test's session so): the request must see what it sees."""
        if isinstance(self.session.session_factory.kw.get("bind"), Connection):
            yield self.session()
            return
        with self.driver_connection() as conn:
            yield conn

    def read(self, work: Callable[[psycopg.Connection | Session], T]) -> T:
        """`work(source)` on a read source (see read_source), run once more on a fresh
        connection when the server had closed the pooled one.

        The checkout check sees a connection the server has already closed; a backend that
        has been told to stop but has not gone yet still looks idle, and answers the first
        statement with "terminating connection". A read changes nothing, so it is safe to run
        again; if the database is really gone, the second try fails too (a 503).
        """
        try:
            with self.read_source() as source:
                return work(source)
        except psycopg.OperationalError as error:
            if not _closed_by_server(error):
                raise
        with self.read_source() as source:
            return work(source)

    @contextmanager
    def driver_connection(self) -> Iterator[psycopg.Connection]:
        """A pooled psycopg connection in autocommit mode, for one read-only request.

        The hot path's way to the database: one round trip per statement (no BEGIN, savepoint
        or ROLLBACK), and statements prepared with `prepare=True` stay prepared on the
        connection (a ROLLBACK would drop them). A connection that fails is discarded.
        """
        assert self.engine is not None, "init_app first"
        fairy = self.engine.raw_connection()
        conn = fairy.driver_connection
        try:
            conn.autocommit = True
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            fairy.invalidate()
            raise
        finally:
            if fairy.is_valid:
                if conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    fairy.invalidate()  # a statement left running: not reusable
                else:
                    conn.autocommit = False
            fairy.close()


def _closed_by_server(error: psycopg.OperationalError) -> bool:
    """Whether the server ended the connection (shut down, restarted, terminated it)."""
    sqlstate = error.sqlstate or ""
    return sqlstate.startswith("57P") or (not sqlstate and "closed" in str(error))


def _check_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Discard a pooled connection the server has closed, without a round trip.

    An idle connection has nothing to read: data waiting on its socket means the server closed
    it (a restart, an administrator) or sent a notice. Only then is it pinged; a failed ping
    makes the pool open a new connection (SQLAlchemy retries the checkout). A ping on every
    checkout (pool_pre_ping) would cost a round trip per request.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise exc.DisconnectionError("connection closed")
    poller = select_.poll()
    poller.register(dbapi_connection.fileno(), select_.POLLIN)
    if poller.poll(0):
        try:
            dbapi_connection.execute("SELECT 1")
            if dbapi_connection.pgconn.transaction_status \
                    == psycopg.pq.TransactionStatus.INTRANS:
                dbapi_connection.rollback()
        except psycopg.Error as error:
            raise exc.DisconnectionError("connection lost") from error
