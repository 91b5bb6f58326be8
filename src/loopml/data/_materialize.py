"""Write the files of a folder version into a local folder, reusing what is already there.

A file already at its place with the right content (known from the digest cache) is
kept; every other file is fetched from the artifact store, verified and written
atomically, so a reader never sees half a file and two processes materialising the same
version at once both end with a complete, correct folder. Files in the folder that are
not part of the version are left alone.

Example:
    >>> sync_folder(artifacts, entries, Path("out"), cache)  # doctest: +SKIP
    3
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from loopml.artifacts import ArtifactStore, ManifestEntry, local_target
from loopml.data._digest_cache import DigestCache
from loopml.data._folders import Progress, run_parallel
from loopml.errors import InvalidInputError

__all__ = ["sync_folder"]


def sync_folder(
    artifacts: ArtifactStore,
    entries: Sequence[ManifestEntry],
    dest: Path,
    cache: DigestCache,
    *,
    progress: Progress | None = None,
) -> int:
    """Make ``dest`` hold every file of ``entries``; return how many had to be written.

    Raises:
        InvalidInputError: ``dest`` is a file.
        UnsafePathError: a stored path is unsafe, or a folder or file on the way to it
            is a symbolic link (:func:`loopml.artifacts.local_target`).
        NotFoundError, DigestMismatchError: a blob is missing or corrupt in the artifact store.
    """
    root = dest.expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise InvalidInputError(f"{root} is a file; give a folder to write the dataset's files to")
    targets = {entry.path: local_target(root, entry.path) for entry in entries}
    present = [(str(path), info) for path in targets.values() if (info := _stat(path))]
    known = cache.lookup(present)
    todo = [e for e in entries if known.get(str(targets[e.path])) != e.digest]
    total = sum(entry.size for entry in todo)
    root.mkdir(parents=True, exist_ok=True)
    done, written = 0, []
    for entry, _ in run_parallel(lambda e: artifacts.get_file(e.digest, targets[e.path]), todo):
        done += entry.size
        target = targets[entry.path]
        written.append((str(target), os.stat(target), entry.digest))
        if progress is not None:
            progress(done, total)
    cache.store(written)  # verified as written: trusted without waiting for quiet
    return len(todo)


def _stat(path: Path) -> os.stat_result | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return info
