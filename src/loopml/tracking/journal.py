"""Fast, durable metric logging: a per-process append-only journal, ingested in batches.

``log_metric`` must be cheap (tens of thousands of calls a second) and must not lose
a point once it has returned, even if the process is killed with SIGKILL the next
instant. Committing a database transaction per point gives the second but not the
first. So each call appends one line to this process's journal file with a single
``os.write`` (the bytes are then in the kernel's hands and survive the process), and
a background thread ingests the pending points in batches.

Ingestion is exactly-once: every record carries a sequence number, and the highest
ingested number is stored in ``journal_checkpoints`` in the same transaction as the
points. A journal whose process died (its ``flock`` is free) is an *orphan*: the next
loopml process that looks ingests what it holds beyond the checkpoint and removes it.

Example:
    >>> journal = MetricJournal(store, Path(".loopml/journal"))  # doctest: +SKIP
    >>> journal.append(run_id, "loss", 0.25, step=1, timestamp=1700000000000)  # doctest: +SKIP
    >>> journal.flush()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import logging
import os
import socket
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sqlalchemy import Connection, delete, select

from loopml._ids import new_id
from loopml.errors import DiskFullError, LoopmlError
from loopml.store import Store
from loopml.store.schema import journal_checkpoints
from loopml.tracking._validation import check_key

__all__ = ["MetricJournal", "Point", "ingest", "recover_orphans"]

log = logging.getLogger("loopml.tracking")

# (run_id, key, value, step, timestamp); a point's sequence number is implied by its position.
Point = tuple[str, str, float, int, int]

SUFFIX = ".jnl"
_CHUNK = 50_000  # points per ingest transaction; also the backpressure threshold
_TRUNCATE_AT = 32 * 1024 * 1024
_MAX_RUN_ID = 32  # the width of the runs.id column
_open_journals: weakref.WeakSet[MetricJournal] = weakref.WeakSet()


class MetricJournal:
    """This process's journal for one store. Thread-safe.

    Pending points are always a contiguous run of sequence numbers starting at
    ``_first``, so they are kept as plain tuples and ingested without copying.
    """

    def __init__(self, store: Store, directory: Path, flush_interval: float = 0.5) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.pid = os.getpid()
        self.journal_id = f"{socket.gethostname()}-{self.pid}-{new_id()}"
        self.path = directory / f"{self.journal_id}{SUFFIX}"
        self.flush_interval = flush_interval
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            raise write_error(err, self.path, "metrics cannot be logged") from err
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for the process's life
        self._seq = 0  # the last sequence number written
        self._first = 1  # the sequence number of _pending[0]
        self._pending: list[Point] = []
        self._lock = threading.Lock()  # seq, pending, file writes
        self._ingest_lock = threading.Lock()  # one ingestion at a time
        self._wake = threading.Event()
        self._closed = False
        self._torn = False
        self._thread: threading.Thread | None = None
        _open_journals.add(self)

    @property
    def owner(self) -> str:
        """Identifies this process to liveness checks: ``host:path-of-the-locked-file``."""
        return f"{socket.gethostname()}:{self.path}"

    def append(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        """Record one point durably (in the OS) before returning.

        Raises:
            DiskFullError: no room to write it (nothing of it is kept).
        """
        with self._lock:
            seq = self._seq + 1
            self._write(f"{seq}\t{run_id}\t{key}\t{value!r}\t{step}\t{timestamp}\n".encode())
            self._seq = seq
            if not self._pending:
                self._first = seq
            self._pending.append((run_id, key, value, step, timestamp))
            backlog = len(self._pending)
        self._after_append(backlog)

    def append_many(self, points: Iterable[Point]) -> int:
        """Record many ``(run_id, key, value, step, timestamp)`` points; returns how many."""
        total = 0
        batch: list[Point] = []
        for point in points:
            batch.append(point)
            if len(batch) >= 10_000:
                total += self._append_batch(batch)
                batch = []
        if batch:
            total += self._append_batch(batch)
        return total

    def _append_batch(self, batch: list[Point]) -> int:
        with self._lock:
            first = self._seq + 1
            text = "".join(
                [
                    f"{s}\t{r}\t{k}\t{v!r}\t{st}\t{ts}\n"
                    for s, (r, k, v, st, ts) in enumerate(batch, first)
                ]
            )
            self._write(text.encode())
            self._seq += len(batch)
            if not self._pending:
                self._first = first
            self._pending.extend(batch)
            backlog = len(self._pending)
        self._after_append(backlog)
        return len(batch)

    def _write(self, data: bytes) -> None:
        """Append all of ``data`` or none of it; call with ``_lock`` held.

        A short write (a nearly full disk, a file size limit) is continued until every
        byte is written or the OS refuses; then the bytes already written are cut off
        again, so the journal never holds a torn record that a later one would run into.
        """
        if self._torn:  # an earlier cut failed: end its fragment so it reads as one bad line
            data = b"\n" + data
        done = 0
        try:
            done = os.write(self._fd, data)
            while done < len(data):
                written = os.write(self._fd, memoryview(data)[done:])
                if written == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += written
        except OSError as err:
            if done:
                try:
                    os.ftruncate(self._fd, os.fstat(self._fd).st_size - done)
                except OSError:
                    self._torn = True
            raise write_error(err, self.path, "the metric was not stored") from err
        self._torn = False

    def _after_append(self, backlog: int) -> None:
        if self._thread is None:
            self._start_thread()
        if backlog >= _CHUNK:
            self.flush()  # backpressure keeps memory bounded when logging faster than ingesting

    def flush(self) -> None:
        """Ingest every pending point now; on failure they stay pending (and journaled)."""
        with self._ingest_lock:
            with self._lock:
                first, batch, self._pending = self._first, self._pending, []
            if not batch:
                return
            try:
                for start in range(0, len(batch), _CHUNK):
                    ingest(
                        self.store, self.journal_id, first + start, batch[start : start + _CHUNK]
                    )
            except BaseException:
                with self._lock:  # put them back in front of whatever came meanwhile
                    self._pending[:0] = batch
                    self._first = first
                raise
            self._maybe_truncate()

    def _maybe_truncate(self) -> None:
        with self._lock:
            if not self._pending and os.fstat(self._fd).st_size > _TRUNCATE_AT:
                os.ftruncate(self._fd, 0)  # all ingested; the checkpoint remembers the seq

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"loopml-journal-{self.pid}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as err:  # the points stay journaled and pending; try again later
                log.warning("could not ingest metrics yet (%s); will retry", err)

    def close(self) -> None:
        """Flush, then remove the journal; if flushing fails the file stays for recovery."""
        if self._closed or os.getpid() != self.pid:
            return
        self._closed = True
        self._wake.set()
        try:
            self.flush()
        except Exception as err:
            log.warning("metrics kept in %s for recovery: %s", self.path, err)
            os.close(self._fd)
            return
        _retire(self.store, self.path, self._fd, self.journal_id, checkpointed=self._seq > 0)


def ingest(store: Store, journal_id: str, first_seq: int, points: Sequence[Point]) -> None:
    """Write points ``first_seq…`` and advance the journal's checkpoint in one transaction.

    Points at or below the stored checkpoint are skipped, so ingesting twice is harmless.
    """
    if not points:
        return
    last_seq = first_seq + len(points) - 1
    q, false = store.placeholder, "0" if store.is_sqlite else "FALSE"

    def work(conn: Connection) -> None:
        done = conn.execute(
            select(journal_checkpoints.c.last_seq).where(
                journal_checkpoints.c.journal_id == journal_id
            )
        ).scalar()
        fresh = points if done is None else points[max(0, done - first_seq + 1) :]
        if not fresh:
            return
        _insert_points(conn, fresh, q, false)
        _upsert_latest(conn, fresh, q)
        _merge_rollups(conn, fresh, q)
        conn.exec_driver_sql(
            "INSERT INTO journal_checkpoints (journal_id, last_seq) "
            f"VALUES ({q}, {q}) ON CONFLICT (journal_id) DO UPDATE "
            "SET last_seq = excluded.last_seq "
            "WHERE excluded.last_seq > journal_checkpoints.last_seq",
            (journal_id, last_seq),
        )

    store.transact(work)


def _insert_points(conn: Connection, points: Sequence[Point], q: str, false: str) -> None:
    columns = 'INSERT INTO metrics (run_id, key, value, is_nan, step, "timestamp") '
    # ``v != v`` is the NaN test. Without NaNs the points go to the driver as they are.
    if not any(v != v for _, _, v, _, _ in points):
        conn.exec_driver_sql(
            columns + f"VALUES ({q}, {q}, {q}, {false}, {q}, {q})",
            points,
        )
        return
    rows = [
        (run_id, key, 0.0, True, step, ts) if v != v else (run_id, key, v, False, step, ts)
        for run_id, key, v, step, ts in points
    ]
    conn.exec_driver_sql(columns + f"VALUES ({q}, {q}, {q}, {q}, {q}, {q})", rows)


def _upsert_latest(conn: Connection, points: Sequence[Point], q: str) -> None:
    latest: dict[tuple[str, str], Point] = {}
    for point in points:  # in sequence order, so on a tie the later point wins
        slot = (point[0], point[1])
        best = latest.get(slot)
        if best is None or (point[3], point[4]) >= (best[3], best[4]):
            latest[slot] = point
    conn.exec_driver_sql(
        'INSERT INTO latest_metrics (run_id, key, value, is_nan, step, "timestamp") '
        f"VALUES ({q}, {q}, {q}, {q}, {q}, {q}) ON CONFLICT (run_id, key) DO UPDATE SET "
        'value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "timestamp" = '
        'excluded."timestamp" WHERE excluded.step > latest_metrics.step OR '
        "(excluded.step = latest_metrics.step "
        'AND excluded."timestamp" >= latest_metrics."timestamp")',
        [
            (run_id, key, 0.0 if v != v else v, v != v, step, ts)
            for run_id, key, v, step, ts in latest.values()
        ],
    )


def _merge_rollups(conn: Connection, points: Sequence[Point], q: str) -> None:
    """Merge the points' chart rollups into the stored ones (loopml.tracking._charts)."""
    from loopml.tracking._charts import rollups

    t = "metric_rollups"
    lower = f"excluded.low < {t}.low OR ({t}.low IS NULL AND excluded.low IS NOT NULL) OR "
    lower += f"(excluded.low = {t}.low AND excluded.low_step < {t}.low_step)"
    higher = f"excluded.high > {t}.high OR ({t}.high IS NULL AND excluded.high IS NOT NULL) OR "
    higher += f"(excluded.high = {t}.high AND excluded.high_step < {t}.high_step)"

    def pick(condition: str, column: str) -> str:
        return f"{column} = CASE WHEN {condition} THEN excluded.{column} ELSE {t}.{column} END"

    conn.exec_driver_sql(
        f"INSERT INTO {t} (run_id, key, level, block, points, nans, first_step, last_step, "
        "low, low_step, low_ts, high, high_step, high_ts) VALUES ("
        + ", ".join([q] * 14)
        + ") ON CONFLICT (run_id, key, level, block) DO UPDATE SET "
        f"points = {t}.points + excluded.points, nans = {t}.nans + excluded.nans, "
        + ", ".join(
            [
                pick(f"excluded.first_step < {t}.first_step", "first_step"),
                pick(f"excluded.last_step > {t}.last_step", "last_step"),
                *(pick(lower, column) for column in ("low", "low_step", "low_ts")),
                *(pick(higher, column) for column in ("high", "high_step", "high_ts")),
            ]
        ),
        rollups(points),
    )


def recover_orphans(store: Store, directory: Path, *, skip: Path | None = None) -> int:
    """Ingest and remove the journals of dead processes; return how many points were saved."""
    if not directory.is_dir():
        return 0
    saved = 0
    for path in directory.glob(f"*{SUFFIX}"):
        if path == skip:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                continue  # its process is alive
            raise
        journal_id = path.name[: -len(SUFFIX)]
        for first_seq, chunk in _runs_of_points(_read_records(fd, path), _CHUNK):
            ingest(store, journal_id, first_seq, chunk)
            saved += len(chunk)
        _retire(store, path, fd, journal_id)
    return saved


def _retire(
    store: Store, path: Path, fd: int, journal_id: str, *, checkpointed: bool = True
) -> None:
    # Empty it before unlinking: a process that opened it just now must find nothing to redo.
    os.ftruncate(fd, 0)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(fd)
    if not checkpointed:
        return
    store.transact(
        lambda conn: conn.execute(
            delete(journal_checkpoints).where(journal_checkpoints.c.journal_id == journal_id)
        )
    )


def _read_records(fd: int, path: Path) -> Iterator[tuple[int, Point]]:
    """The journal's well-formed records; a bad line is reported (file and line) and skipped.

    A bad line is never written by this code as it is now, but a journal may come from
    an older version or be damaged on disk, and one bad line must not cost the others.
    """
    with os.fdopen(os.dup(fd), "rb") as handle:
        handle.seek(0)
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                break  # a torn last write: its call never returned
            try:
                yield _parse_record(raw)
            except ValueError as err:
                log.warning(
                    "skipped line %d of metric journal %s (%s): %r",
                    number,
                    path,
                    err,
                    raw[:200],
                )


def _parse_record(raw: bytes) -> tuple[int, Point]:
    fields = raw[:-1].decode("utf-8").split("\t")
    if len(fields) != 6:
        raise ValueError(f"{len(fields)} fields instead of 6")
    seq, run_id, key, value, step, ts = fields
    if not 0 < len(run_id) <= _MAX_RUN_ID:  # a longer one would fail the whole transaction
        raise ValueError(f"run id of {len(run_id)} characters")
    check_key("metric", key)  # InvalidInputError is a ValueError
    return _int64(seq, "sequence number"), (
        run_id,
        key,
        float(value),
        _int64(step, "step"),
        _int64(ts, "timestamp"),
    )


def _int64(text: str, what: str) -> int:
    number = int(text)  # ValueError for "1.5", "now"…
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"{what} {number} does not fit in 64 bits")
    return number


def _runs_of_points(
    records: Iterable[tuple[int, Point]], size: int
) -> Iterator[tuple[int, list[Point]]]:
    """Group records into ``(first_seq, points)`` runs of consecutive sequence numbers."""
    first = 0
    chunk: list[Point] = []
    for seq, point in records:
        if chunk and (seq != first + len(chunk) or len(chunk) >= size):
            yield first, chunk
            chunk = []
        if not chunk:
            first = seq
        chunk.append(point)
    if chunk:
        yield first, chunk


def write_error(err: OSError, path: Path, consequence: str) -> LoopmlError:
    """The error to raise when writing ``path`` failed with ``err``: what happened, what to do."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            stat = os.statvfs(path.parent)
            free = f"{stat.f_bavail * stat.f_frsize} bytes"
        except OSError:
            free = "no"
        return DiskFullError(
            f"disk full: {free} free on {path.parent}; {consequence}. Free some space "
            "(or set LOOPML_HOME to a bigger disk) and log it again",
            details={"path": str(path), "errno": errno.errorcode.get(err.errno or 0)},
        )
    if err.errno == errno.EFBIG:
        return DiskFullError(
            f"file size limit reached writing {path} (`ulimit -f`); {consequence}. Raise "
            "the limit and log it again",
            details={"path": str(path), "errno": "EFBIG"},
        )
    return LoopmlError(f"could not write {path}: {err.strerror or err}; {consequence}")


def is_owner_alive(owner: str | None) -> bool | None:
    """Whether the process that holds ``owner``'s journal lock still runs.

    ``None`` when it cannot be told from this host (another machine, or no owner).
    """
    if not owner:
        return None
    host, _, path = owner.partition(":")
    if host != socket.gethostname():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


@atexit.register
def _close_all() -> None:
    for journal in list(_open_journals):
        try:
            journal.close()
        except Exception as err:
            log.warning("metric journal %s left for recovery: %s", journal.path, err)
