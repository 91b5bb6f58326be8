"""blob_store_from_url: every URL form picks the right backend; bad URLs get clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import loopml.artifacts
from conftest import S3Server
from loopml.artifacts import ArtifactStore, blob_store_from_url
from loopml.artifacts.local import LocalBlobStore
from loopml.artifacts.memory import MemoryBlobStore
from loopml.artifacts.s3 import S3BlobStore
from loopml.errors import InvalidInputError, MissingDependencyError

HELLO_DIGEST = "ab" * 32


def test_memory_url_gives_a_new_memory_store() -> None:
    first, second = blob_store_from_url("memory://"), blob_store_from_url("memory://")
    assert isinstance(first, MemoryBlobStore)
    assert first is not second
    with pytest.raises(InvalidInputError, match="takes no name"):
        blob_store_from_url("memory://shared")


@pytest.mark.parametrize("form", ["file", "absolute", "relative", "home"])
def test_local_forms(form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    url = {
        "file": (tmp_path / "store").as_uri(),
        "absolute": str(tmp_path / "store"),
        "relative": "store",
        "home": "~/store",
    }[form]
    store = blob_store_from_url(url)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "store"
    assert store.url == (tmp_path / "store").as_uri()
    assert blob_store_from_url(store.url).url == store.url  # the url round-trips


def test_file_url_with_a_remote_host_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="file:///absolute/path"):
        blob_store_from_url("file://fileserver/share")


def test_s3_url(s3_server: S3Server) -> None:
    store = blob_store_from_url(
        f"s3://{s3_server.bucket}/team/artifacts", **s3_server.storage_options
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.url) == (
        s3_server.bucket,
        "team/artifacts",
        f"s3://{s3_server.bucket}/team/artifacts",
    )
    bare = blob_store_from_url(f"s3://{s3_server.bucket}", **s3_server.storage_options)
    assert isinstance(bare, S3BlobStore)
    assert (bare.prefix, bare.url) == ("", f"s3://{s3_server.bucket}")


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "s3://b/p?endpoint_url=x", "s3://b/../x"])
def test_malformed_s3_urls_are_refused(url: str, s3_server: S3Server) -> None:
    with pytest.raises(InvalidInputError):
        blob_store_from_url(url, **s3_server.storage_options)


@pytest.mark.parametrize("variable", ["LOOPML_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
def test_s3_endpoint_from_the_environment(
    variable: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, s3_server.endpoint_url)
    options = {k: v for k, v in s3_server.storage_options.items() if k != "endpoint_url"}
    store = S3BlobStore(s3_server.bucket, f"env-{variable.lower()}", **options)
    store.put_bytes(HELLO_DIGEST, b"reached the loopback server")
    assert store.exists(HELLO_DIGEST)


def test_missing_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # what an uninstalled package looks like
    with pytest.raises(MissingDependencyError, match=r"pip install 'loopml\[s3\]'") as caught:
        blob_store_from_url("s3://bucket/prefix")
    assert isinstance(caught.value, ImportError)


def test_python_class_door_for_third_parties(tmp_path: Path) -> None:
    assert isinstance(
        blob_store_from_url("py:loopml.artifacts.memory.MemoryBlobStore"), MemoryBlobStore
    )
    store = blob_store_from_url(f"py:loopml.artifacts.local:LocalBlobStore?root={tmp_path}")
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path
    keyword = blob_store_from_url("py:loopml.artifacts.local.LocalBlobStore", root=tmp_path / "kw")
    assert isinstance(keyword, LocalBlobStore)
    assert keyword.root == tmp_path / "kw"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("py:collections.OrderedDict", "is not a blob store; it lacks url, exists"),
        ("py:no_such_package_xyz.Store", "cannot import module 'no_such_package_xyz'"),
        ("py:loopml.artifacts.memory.NoSuchStore", "has no class 'NoSuchStore'"),
        ("py:JustAName", "py:package.module.ClassName"),
    ],
)
def test_python_class_door_errors(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        blob_store_from_url(url)


@pytest.mark.parametrize("url", ["ftp://x", "gs://bucket/prefix", "data:x"])
def test_unknown_scheme_names_the_supported_ones(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        blob_store_from_url(url)
    message = str(caught.value)
    assert f"unknown scheme '{url.split(':')[0]}'" in message
    for scheme in ("file:", "memory:", "py:", "s3:", "plain directory path"):
        assert scheme in message


def test_artifact_store_from_url() -> None:
    store = ArtifactStore.from_url("memory://")
    assert isinstance(store.blob_store, MemoryBlobStore)
    assert store.url == "memory://"


def test_exported_members() -> None:
    assert sorted(loopml.artifacts.__all__) == [
        "ArtifactStore",
        "BlobInfo",
        "BlobStore",
        "GcReport",
        "ManifestEntry",
        "StoredFile",
        "blob_store_from_url",
        "join_artifact_path",
        "local_target",
        "safe_artifact_path",
        "sha256_file",
    ]


def test_importing_artifacts_stays_light() -> None:
    code = (
        "import sys, loopml.artifacts; "
        "heavy = {'s3fs', 'fsspec', 'boto3', 'botocore', 'loopml.store'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("os:system?command=touch {}", "is not a class"),
        ("subprocess:Popen?args=touch {}&shell=1", "lacks url"),
    ],
)
def test_python_class_door_runs_nothing_that_is_not_a_blob_store(
    tmp_path: Path, target: str, message: str
) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(InvalidInputError, match=message):
        blob_store_from_url("py:" + target.format(pwned))
    assert not pwned.exists()
