"""The refresh lock: one ``kb refresh`` per knowledge base at a time, on SQLite and PostgreSQL.

The lock is a row of ``refresh_lock``. Taking it is an ``INSERT`` in its own transaction: the
primary key lets exactly one concurrent inserter win, on any database, with no server-side
advisory-lock feature. The holder refreshes ``heartbeat_at`` from a background thread while
it works and deletes the row when it is done.

A holder that was killed leaves its row behind. The row is *stale*, and may be taken over,
when its heartbeat is older than ``stale_after`` or when it was written by a process on this
host that no longer exists. Takeover is a conditional ``UPDATE … WHERE owner = <old token>``:
of several processes trying at once, exactly one changes a row, so exactly one wins. Every
heartbeat and the release are conditional on the holder's own token, so a holder whose lock
was taken over finds out (:class:`LockLost`) instead of trampling on the new holder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col

from kb.db import db_error
from kb.errors import KBError, StoreError
from kb.models import RefreshLock

log = logging.getLogger(__name__)

LOCK_NAME = "refresh"
STALE_AFTER = timedelta(minutes=10)
HEARTBEAT_EVERY = 30.0


class LockHeld(KBError):
    """Another refresh holds the lock and is alive."""

    def __init__(self, holder: LockInfo) -> None:
        self.holder = holder
        super().__init__(
            f"another refresh is running (topic {holder.topic_id!r}, pid {holder.pid} on {holder.host}, "
            f"started {holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {holder.heartbeat_at:%H:%M:%S} UTC); "
            "this run did nothing. Run again once it has finished; a lock whose holder died is taken over "
            "automatically (at once on the same host, after "
            f"{int(STALE_AFTER.total_seconds() // 60)} minutes elsewhere)"
        )


class LockLost(KBError):
    """The lock was taken over by another run (this run was presumed dead)."""


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds the lock."""

    owner: str
    topic_id: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_stale(holder: LockInfo, *, now: datetime, stale_after: timedelta, host: str) -> bool:
    """A lock row is stale when its heartbeat is too old or its process is gone from this host."""
    if now - holder.heartbeat_at > stale_after:
        return True
    return holder.host == host and not _pid_alive(holder.pid)


class RefreshLockHandle:
    """A held refresh lock. Use :func:`acquire` to get one; ``release`` it (or use ``with``)."""

    def __init__(self, engine: Engine, owner: str, *, took_over: LockInfo | None, heartbeat_every: float) -> None:
        self.engine = engine
        self.owner = owner
        self.took_over = took_over
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(heartbeat_every,), name="refresh-lock-heartbeat", daemon=True
        )
        self._thread.start()

    @property
    def lost(self) -> bool:
        """True once a heartbeat found the lock owned by someone else."""
        return self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`LockLost` if the lock was taken over.

        Raises:
            LockLost: another run took the lock over; stop writing.
        """
        if self._lost.is_set():
            raise LockLost("the refresh lock was taken over by another run (this one was presumed dead); stopping")

    def heartbeat(self) -> None:
        """Tell other runs this one is alive.

        Raises:
            LockLost: the lock belongs to another run now.
            StoreError: the database could not be reached.
        """
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    update(RefreshLock)
                    .where(col(RefreshLock.name) == LOCK_NAME, col(RefreshLock.owner) == self.owner)
                    .values(heartbeat_at=_now())
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"could not refresh the lock's heartbeat: {db_error(exc, self.engine.url)}") from exc
        if result.rowcount != 1:
            self._lost.set()
            self.check()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.heartbeat()
            except LockLost:
                return
            except StoreError as exc:  # a blip: the next beat tries again; staleness takes minutes
                log.warning("%s", exc)

    def release(self) -> None:
        """Stop the heartbeat and delete the lock row, if it is still ours."""
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(RefreshLock).where(col(RefreshLock.name) == LOCK_NAME, col(RefreshLock.owner) == self.owner)
                )
        except SQLAlchemyError as exc:
            log.warning("could not release the refresh lock (it will go stale): %s", exc)

    def __enter__(self) -> RefreshLockHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock(engine: Engine) -> LockInfo | None:
    """The current holder of the refresh lock, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(RefreshLock).where(col(RefreshLock.name) == LOCK_NAME)).first()
    if row is None:
        return None
    return LockInfo(
        owner=row.owner,
        topic_id=row.topic_id,
        host=row.host,
        pid=row.pid,
        acquired_at=_aware(row.acquired_at),
        heartbeat_at=_aware(row.heartbeat_at),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def acquire(
    engine: Engine,
    topic_id: str,
    *,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_every: float = HEARTBEAT_EVERY,
) -> RefreshLockHandle:
    """Take the refresh lock, taking over a stale one.

    Raises:
        LockHeld: a live run holds the lock.
        StoreError: the database could not be reached.
    """
    owner = uuid.uuid4().hex
    host = socket.gethostname()
    pid = os.getpid()
    for _ in range(3):  # the holder may release between our INSERT and our read
        now = _now()
        values = {
            "name": LOCK_NAME,
            "owner": owner,
            "topic_id": topic_id,
            "host": host,
            "pid": pid,
            "acquired_at": now,
            "heartbeat_at": now,
        }
        try:
            with engine.begin() as conn:
                conn.execute(insert(RefreshLock).values(**values))
            return RefreshLockHandle(engine, owner, took_over=None, heartbeat_every=heartbeat_every)
        except IntegrityError:
            pass
        except SQLAlchemyError as exc:
            raise StoreError(f"could not take the refresh lock: {db_error(exc, engine.url)}") from exc
        holder = read_lock(engine)
        if holder is None:
            continue
        if not is_stale(holder, now=_now(), stale_after=stale_after, host=host):
            raise LockHeld(holder)
        try:
            with engine.begin() as conn:
                result = conn.execute(
                    update(RefreshLock)
                    .where(col(RefreshLock.name) == LOCK_NAME, col(RefreshLock.owner) == holder.owner)
                    .values(**values)
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"could not take over the stale refresh lock: {db_error(exc, engine.url)}") from exc
        if result.rowcount == 1:
            log.warning("took over a stale refresh lock of pid %s on %s", holder.pid, holder.host)
            return RefreshLockHandle(engine, owner, took_over=holder, heartbeat_every=heartbeat_every)
        # Someone else took it over (or it was released) first: look again.
    holder = read_lock(engine)
    if holder is not None:
        raise LockHeld(holder)
    raise StoreError("could not take the refresh lock after three attempts; try again")
