"""Settles finished calls on one background thread per web process, after the answer has
been sent.

A WSGI server calls a response's `close()` before it reads the next request on the same
keep-alive connection, so a settle run there delays a client's next call by the ledger's
writes. Here the request thread only queues it. The call's hold stays in place until the
settle commits (the credit shows less, never more, for that millisecond); a process that
dies with settles queued leaves those calls held, and `release_stale_calls` frees them with
nothing charged.

A process busy with other calls settles on the request's thread, as does one with
`MAX_PENDING` settles queued: there the settles run side by side (PostgreSQL flushes their
commits together), a second thread would only contend for the interpreter, and a slow
database slows calls down instead of piling up holds.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import close_old_connections, connection, connections

logger = logging.getLogger(__name__)

MAX_PENDING = 8

# One thread: settles of one process commit in order and hold one database connection.
# The executor drains what is queued when the interpreter exits.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-settle")
_idle = threading.Condition()
_pending = 0  # queued or running; guarded by _idle
_answering = 0  # calls being answered by this process; guarded by _idle


def settle_soon(settle: Callable[[], None]) -> None:
    """Runs `settle` soon on the settling thread; inline when a transaction is open on this
    thread (its rows are not visible to another connection yet), on SQLite (one writer at a
    time: a second thread would only queue for the same lock), while the process answers
    other calls, or when the queue is full."""
    if connection.in_atomic_block or connection.vendor == "sqlite" or not _claim():
        settle()
        return
    try:
        _executor.submit(_run, settle)
    except RuntimeError:  # the interpreter is shutting down
        _end()
        settle()


@contextmanager
def answering() -> Iterator[None]:
    """Counts a call as being answered by this process while the block runs."""
    global _answering
    with _idle:
        _answering += 1
    try:
        yield
    finally:
        with _idle:
            _answering -= 1


def wait_settled(timeout: float = 10.0) -> bool:
    """Blocks until every queued settle has run; False when `timeout` seconds passed first."""
    with _idle:
        return _idle.wait_for(lambda: _pending == 0, timeout=timeout)


def disconnect(timeout: float = 10.0) -> None:
    """Closes the settling thread's database connections, after what is queued (a process
    that drops its database, as a test run does at its end, must not be using it)."""
    _executor.submit(connections.close_all).result(timeout)


def _run(settle: Callable[[], None]) -> None:
    try:
        settle()
    except Exception:  # the call stays held; release_stale_calls frees it
        logger.exception("settling a served call failed")
    finally:
        close_old_connections()  # as after a request: by CONN_MAX_AGE, or when it broke
        _end()


def _claim() -> bool:
    global _pending
    with _idle:
        if _answering or _pending >= MAX_PENDING:
            return False
        _pending += 1
        return True


def _end() -> None:
    global _pending
    with _idle:
        _pending -= 1
        _idle.notify_all()
