"""Sortable ids: format, order, uniqueness under threads and processes, embedded time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml._ids import id_time_ms, new_id
from loopml.errors import InvalidInputError

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A ULID's 10 time characters hold 48 bits, so the first one is at most "7".
time_part = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(CROCKFORD[:8]),
    st.text(alphabet=CROCKFORD, min_size=9, max_size=9),
)
random_part = st.text(alphabet=CROCKFORD, min_size=16, max_size=16)


def test_new_id_is_26_crockford_characters() -> None:
    ulid = new_id()

    assert len(ulid) == 26
    assert set(ulid) <= set(CROCKFORD)


def test_ids_from_one_thread_strictly_increase() -> None:
    ids = [new_id() for _ in range(20_000)]  # many share a millisecond

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_unique_and_ordered_per_thread_under_threads() -> None:
    per_thread: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(per_thread))

    def make(out: list[str]) -> None:
        start.wait()
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [ulid for out in per_thread for ulid in out]
    assert len(set(every)) == len(every) == 40_000
    for out in per_thread:
        assert out == sorted(out)


# Runs in a small fresh interpreter: it forks in well under a millisecond, so parent and
# child both make their next id within the millisecond of the last id made before the fork.
_FORK_SCRIPT = """
import os
from loopml._ids import new_id

repeats = 0
for _ in range(300):
    read_end, write_end = os.pipe()
    new_id()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, new_id().encode())
        os._exit(0)
    parent_id = new_id()
    os.waitpid(pid, 0)
    repeats += os.read(read_end, 26).decode() == parent_id
    os.close(read_end)
    os.close(write_end)
print(repeats)
"""


def test_forked_processes_do_not_repeat_ids() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, check=True
    )

    assert int(result.stdout) == 0


def test_id_time_ms_is_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    ulid = new_id()
    after = time.time_ns() // 1_000_000

    assert before <= id_time_ms(ulid) <= after


@given(time_part, random_part, random_part)
def test_id_order_is_time_order(prefix: str, tail_a: str, tail_b: str) -> None:
    earlier = "0" + prefix[1:] if prefix[0] != "0" else prefix
    a, b = earlier + tail_a, prefix + tail_b

    if a[:10] < b[:10]:
        assert id_time_ms(a) < id_time_ms(b)
    assert id_time_ms(a) <= id_time_ms(b)


@given(time_part, random_part)
def test_id_time_ms_reads_any_case(prefix: str, tail: str) -> None:
    ulid = prefix + tail

    assert id_time_ms(ulid.lower()) == id_time_ms(ulid)
    assert 0 <= id_time_ms(ulid) < 2**48


@pytest.mark.parametrize("bad", ["", "not-an-id", "01J0ABCDEFGHJKMNPQRSTVWXY!", "U" * 26])
def test_id_time_of_a_non_id_is_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a loopml id"):
        id_time_ms(bad)
