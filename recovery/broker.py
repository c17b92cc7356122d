"""The embedded broker: without REDIS_URL, Celery's messages live in a SQLite file of their own,
through kombu's SQLAlchemy transport (`sqla+sqlite:///…`).

kombu hands the transport options to SQLAlchemy's `create_engine`, so they are the one place to
say how the file is opened. Web, beat, the worker and the worker's pool children all put and get
at once; SQLite's lock makes each put and each get one transaction, so no reader ever sees half a
message (kombu's filesystem transport, used before, let a worker read a message file before its
writer had filled it, and the worker died on the empty JSON: kombu issue #1551).
"""

import fcntl
import os
import sqlite3

from sqlalchemy import create_engine, exc, text
from sqlalchemy.pool import NullPool, QueuePool

URL_PREFIX = "sqla+sqlite:///"

# How long a put or a get waits for another process's write to finish before failing with
# "database is locked". A transaction here takes milliseconds; this only covers a busy disk.
LOCK_TIMEOUT_SECONDS = 20


def transport_options(url, queue_names):
    """Transport options for kombu's SQLAlchemy transport on the SQLite file of `url`, whose
    queues are `queue_names`."""
    path = url.removeprefix(URL_PREFIX)
    prepared_by = set()

    def connect():
        connection = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS, check_same_thread=False)
        # No fsync per commit (about 5 ms each here), which makes a put or a get several times
        # faster. With WAL a power cut can lose the last messages but not corrupt the file, and a
        # lost message is no loss: the deadlines live in the database and the next sweep finds
        # the work again.
        connection.execute("PRAGMA synchronous=NORMAL")
        if os.getpid() not in prepared_by:
            _prepare(path, queue_names)
            prepared_by.add(os.getpid())
        return connection

    # Connections are kept open (closing one costs a checkpoint), but never across a fork: a
    # prefork worker that replaces a pool child forks it from a parent whose connections are in
    # this pool, and SQLite forbids using a connection in a process other than the one that
    # opened it. No limit on overflow: a checkout never waits on another channel's idle session.
    return {"pool": QueuePool(connect, pool_size=2, max_overflow=-1, events=[
        (_remember_process, "connect"), (_refuse_connections_of_another_process, "checkout"),
    ])}


def _prepare(path, queue_names):
    """Create kombu's tables and a row per queue, one process at a time, and drop the messages
    already handed out.

    kombu creates both on first use, but guards that only against other threads: on a fresh file,
    two processes starting together (`make run`) both insert the same queue and one fails with
    IntegrityError, or both create the tables and one fails with "table already exists"."""
    from kombu.transport.sqlalchemy.models import metadata

    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        engine = create_engine("sqlite://", poolclass=NullPool,
                               creator=lambda: sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS))
        try:
            with engine.begin() as connection:
                # WAL: a reader never blocks the writer, and a commit appends to the log. The
                # mode stays with the file; switching to it needs the file to itself, hence here.
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            metadata.create_all(engine)  # the tables kombu's channel has declared by now
            with engine.begin() as connection:
                if "kombu_queue" in metadata.tables:
                    for name in queue_names:
                        connection.execute(text("INSERT OR IGNORE INTO kombu_queue (name) VALUES (:name)"), {"name": name})
                if "kombu_message" in metadata.tables:
                    # kombu marks a message it has handed out invisible and never reads it again
                    # (a worker that stops gracefully puts back what it had not finished as new
                    # rows), so the rows only grow: drop them whenever a process starts.
                    connection.execute(text("DELETE FROM kombu_message WHERE visible = 0"))
        finally:
            engine.dispose()


def _remember_process(dbapi_connection, connection_record):
    connection_record.info["pid"] = os.getpid()


def _refuse_connections_of_another_process(dbapi_connection, connection_record, connection_proxy):
    # SQLAlchemy's recipe for pools and os.fork(): forget the parent's connection without closing
    # it here (the parent is still using it); the pool then opens a fresh one for this process.
    if connection_record.info["pid"] != os.getpid():
        connection_record.dbapi_connection = connection_proxy.dbapi_connection = None
        raise exc.DisconnectionError("a broker connection opened by another process")
