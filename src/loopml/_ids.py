"""Sortable identifiers (ULID: 48-bit millisecond time + 80 random bits, Crockford base32).

Ids made in one process are strictly increasing, even within one millisecond, so
ordering by id is ordering by creation.

Example:
    >>> a, b = new_id(), new_id()
    >>> len(a), a < b
    (26, True)
"""

from __future__ import annotations

import os
import threading
import time

from loopml.errors import InvalidInputError

__all__ = ["id_time_ms", "new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new 26-character ULID, larger than every id this process made before."""
    global _last_ms, _last_rand
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        _last_ms, _last_rand = now, rand
    return _encode(now, 10) + _encode(rand, 16)


def _reset_after_fork() -> None:
    # A forked child would otherwise continue the parent's sequence and repeat its next ids.
    global _lock, _last_ms, _last_rand
    _lock = threading.Lock()
    _last_ms, _last_rand = -1, 0


os.register_at_fork(after_in_child=_reset_after_fork)


def id_time_ms(ulid: str) -> int:
    """The creation time (Unix milliseconds) encoded in an id from :func:`new_id`."""
    text = ulid.upper()
    if len(text) != 26 or any(char not in _DECODE for char in text) or text[0] > "7":
        raise InvalidInputError(f"'{ulid}' is not a loopml id (26 characters of base32)")
    value = 0
    for char in text[:10]:
        value = value * 32 + _DECODE[char]
    return value
