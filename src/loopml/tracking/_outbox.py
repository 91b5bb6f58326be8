"""The remote client's outbox: writes journaled on local disk, sent to the server in order.

Every write of a remote run (metric points, params, tags, the end of the run) is appended
to a journal file first, so it survives the server being down and this process being
killed. A sender thread posts the journal in order, in batches, each with an
``Idempotency-Key`` made of the journal's id and the entry's offset: a batch retried after
a lost reply is never stored twice. The offset sent so far is kept beside the journal.
A journal whose process died is adopted and sent by the next client of the same server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from loopml._ids import new_id
from loopml._remote import ServerUnreachable
from loopml.errors import ConflictError, LoopmlError

__all__ = ["Outbox"]

log = logging.getLogger("loopml.tracking.remote")

# (idempotency key, entries of one run) -> how many of them the server holds now
Send = Callable[[str, list[dict[str, Any]]], int]
BATCH = 10_000
_MAX_BACKOFF = 30.0


class _Journal:
    """One append-only journal file, ``<id>.jsonl``, and its sent offset, ``<id>.sent``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.stem
        self.offset_path = path.with_suffix(".sent")
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def lock(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    @property
    def sent(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def mark_sent(self, offset: int) -> None:
        scratch = self.offset_path.with_suffix(".sent.tmp")
        scratch.write_text(str(offset))
        os.replace(scratch, self.offset_path)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def entries(self, start: int) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """``(offset, next offset, entry)`` of every whole line from ``start``."""
        with open(self.path, "rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a line still being written, or cut by a crash
                with contextlib.suppress(ValueError):
                    yield offset, offset + len(line), json.loads(line)
                offset += len(line)

    def remove(self) -> None:
        os.close(self.fd)
        for path in (self.path, self.offset_path):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        os.close(self.fd)


class Outbox:
    """This client's journal, the orphans it adopted, and the thread that sends them."""

    def __init__(self, folder: Path, send: Send, *, interval: float = 0.5) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._send = send
        self._interval = interval
        self._own = _Journal(folder / f"{new_id().lower()}.jsonl")
        self._own.lock()
        self._adopted = [j for j in self._orphans() if j is not None]
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._stopping = False
        self.failures: list[str] = []  # entries the server refused (dropped, with why)
        self.unreachable: str | None = None
        self._thread = threading.Thread(target=self._run, name="loopml-outbox", daemon=True)
        self._thread.start()

    # -- writing -----------------------------------------------------------------------

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Journal ``entries`` (durable past a crash of this process once this returns)."""
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)
        with self._write_lock:
            os.write(self._own.fd, data)
        self._wake.set()

    def pending(self) -> int:
        """Bytes of journal not yet acknowledged by the server."""
        return sum(j.size() - j.sent for j in [*self._adopted, self._own])

    def flush(self, timeout: float) -> bool:
        """Wait until everything journaled is sent; ``False`` when ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        while self.pending() > 0:
            self._wake.set()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._idle:
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float) -> int:
        """Send what is left within ``timeout``, stop, and say how many bytes stay journaled."""
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        left = self._own.size() - self._own.sent
        if left <= 0:
            self._own.remove()
        else:
            self._own.close()  # the lock goes with the descriptor: the next client adopts it
        return max(0, left)

    @property
    def journal(self) -> Path:
        return self._own.path

    # -- sending -----------------------------------------------------------------------

    def _orphans(self) -> Iterator[_Journal | None]:
        for path in sorted(self.folder.glob("*.jsonl")):
            if path == self._own.path:
                continue
            journal = _Journal(path)
            if journal.lock():
                yield journal
            else:
                journal.close()
                yield None

    def _run(self) -> None:
        backoff = self._interval
        while True:
            self._wake.wait(backoff if self.unreachable else self._interval)
            self._wake.clear()
            try:
                for journal in [*self._adopted, self._own]:
                    self._drain(journal)
                self._adopted = [j for j in self._adopted if not self._finished(j)]
                self.unreachable, backoff = None, self._interval
            except ServerUnreachable as err:
                if self.unreachable is None:
                    log.warning("loopml: %s; metrics stay journaled and are sent later", err)
                self.unreachable = str(err)
                backoff = min(_MAX_BACKOFF, backoff * 2)
            with self._idle:
                self._idle.notify_all()
            if self._stopping:
                return

    def _finished(self, journal: _Journal) -> bool:
        if journal.size() - journal.sent > 0:
            return False
        journal.remove()
        return True

    def _drain(self, journal: _Journal) -> None:
        """Send ``journal`` from its sent offset to its end, one group at a time."""
        while True:
            group, ends = self._next_group(journal)
            if not group:
                return
            while group:
                taken = self._post(journal, group)
                journal.mark_sent(ends[taken - 1])
                # A replayed answer covers the first attempt's batch, which may have been
                # shorter (the journal grew since): the rest goes again under its own key.
                group, ends = group[taken:], ends[taken:]

    @staticmethod
    def _next_group(journal: _Journal) -> tuple[list[dict[str, Any]], list[int]]:
        """The next request's entries: one write, or up to BATCH metric points of one run."""
        group: list[dict[str, Any]] = []
        ends: list[int] = []
        for _, after, entry in journal.entries(journal.sent):
            if group and (
                entry.get("run") != group[0].get("run")
                or entry.get("op") != "metric"
                or group[0].get("op") != "metric"
                or len(group) >= BATCH
            ):
                break
            group.append(entry)
            ends.append(after)
        return group, ends

    def _post(self, journal: _Journal, group: list[dict[str, Any]]) -> int:
        """Send ``group``; how many of its entries the server has now (from the start)."""
        run = str(group[0].get("run"))
        try:
            return max(1, min(len(group), self._send(f"{journal.id}:{journal.sent}", group)))
        except ServerUnreachable:
            raise
        except ConflictError as err:
            if err.details.get("pending"):  # an earlier attempt is still running: ask again
                raise ServerUnreachable(str(err)) from err
            self._refused(run, group, err)
        except LoopmlError as err:
            self._refused(run, group, err)
        return len(group)

    def _refused(self, run: str, group: list[dict[str, Any]], err: LoopmlError) -> None:
        """Log writes the server refused for good: sending them again cannot help."""
        why = f"{len(group)} {group[0].get('op')} write(s) of run {run} refused: {err}"
        log.error("loopml: %s", why)
        self.failures.append(why)
