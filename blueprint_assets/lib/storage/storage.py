"""The storage layer: every file BluePrint writes or reads back, on a local folder or an object store.

A location is a local path or an object-store URL (`s3://bucket/prefix/...`). Both go through `pyarrow.fs`,
so one code path serves both. S3-compatible servers (MinIO, Ceph, moto) are reached with the standard AWS
settings: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), credentials, `AWS_REGION`. DuckDB reads and writes
object-store URLs through the same filesystem, registered with it as an fsspec filesystem
(`register_with_duckdb`); the httpfs extension is never needed.

Guarantee: `write_bytes` is atomic (a reader sees the old bytes or the new ones, never a mix): on a local
folder a temp file is renamed into place, on an object store a single PUT or a completed multipart upload
is what makes an object visible. Everything else (partitions, state, releases) is built on that; see
docs/storage.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

OBJECT_STORE_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "az://", "hdfs://")


def is_object_store(location: str | Path) -> bool:
    """True when the location is an object-store URL rather than a local path."""
    return str(location).startswith(OBJECT_STORE_SCHEMES)


def join(root: str | Path, *parts: str) -> str:
    """Join path parts with '/', keeping a URL scheme intact."""
    return "/".join([str(root).rstrip("/"), *(p.strip("/") for p in parts if p.strip("/"))])


def normalize_root(location: str | Path) -> str:
    """A data root as one canonical string: an absolute local path, or the URL without a trailing '/'."""
    text = str(location)
    if is_object_store(text):
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


@lru_cache(maxsize=16)
def _object_filesystem(scheme: str, bucket: str, endpoint: str | None) -> pafs.FileSystem:
    if scheme == "s3":
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        kwargs: dict = {"endpoint_override": endpoint} if endpoint else {}
        if region:
            kwargs["region"] = region
        elif not endpoint:
            return pafs.FileSystem.from_uri(f"s3://{bucket}")[0]  # real S3: let Arrow find the region
        return pafs.S3FileSystem(**kwargs)
    return pafs.FileSystem.from_uri(f"{scheme}://{bucket}")[0]


def resolve(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or an object-store URL."""
    text = str(location)
    if is_object_store(text):
        parts = urlsplit(text)
        filesystem = _object_filesystem(parts.scheme, parts.netloc, _endpoint())
        return filesystem, f"{parts.netloc}{parts.path}".rstrip("/")
    return pafs.LocalFileSystem(), str(Path(text).expanduser().absolute())


def make_dirs(location: str | Path) -> None:
    """Create a local folder (object stores have no folders: a no-op there)."""
    if not is_object_store(location):
        Path(location).mkdir(parents=True, exist_ok=True)


def write_bytes(location: str | Path, data: bytes) -> None:
    """Write `data` atomically: readers see the previous content or this one, never part of it."""
    filesystem, path = resolve(location)
    if isinstance(filesystem, pafs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return
    with filesystem.open_output_stream(path) as stream:
        stream.write(data)


def read_bytes(location: str | Path) -> bytes:
    """The content of a file (FileNotFoundError when it does not exist)."""
    filesystem, path = resolve(location)
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


def read_text(location: str | Path) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        return read_bytes(location).decode("utf-8")
    except FileNotFoundError:
        return None


def is_file(location: str | Path) -> bool:
    filesystem, path = resolve(location)
    return filesystem.get_file_info(path).type == pafs.FileType.File


@dataclass(frozen=True)
class StoredFile:
    """One listed file: its full location (same form as the folder asked for), size and modification time."""

    location: str
    relpath: str
    size: int
    mtime_s: float | None


def list_files(folder: str | Path) -> list[StoredFile]:
    """Every file below `folder` (recursively), sorted; an absent folder has none."""
    filesystem, base = resolve(folder)
    selector = pafs.FileSelector(base, allow_not_found=True, recursive=True)
    found = []
    for info in filesystem.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(base) :].lstrip("/")
        mtime = info.mtime.timestamp() if info.mtime is not None else None
        found.append(StoredFile(join(folder, rel), rel, info.size or 0, mtime))
    return sorted(found, key=lambda f: f.relpath)


def delete_file(location: str | Path) -> None:
    """Delete a file; a missing one is fine (another worker may have cleaned it up first)."""
    filesystem, path = resolve(location)
    try:
        filesystem.delete_file(path)
    except FileNotFoundError:
        pass
    except OSError:
        if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
            raise


def delete_tree(folder: str | Path) -> bool:
    """Delete a folder and everything below it; True when something was there."""
    filesystem, path = resolve(folder)
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return False
    filesystem.delete_dir(path)
    return True


def list_folders(folder: str | Path) -> list[str]:
    """Names of the direct sub-folders of `folder` (object stores: common prefixes), sorted."""
    filesystem, base = resolve(folder)
    selector = pafs.FileSelector(base, allow_not_found=True, recursive=False)
    return sorted(
        i.base_name for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.Directory
    )


def upload_tree(local_dir: Path, folder: str | Path) -> list[str]:
    """Copy every file of `local_dir` to `folder` (relative paths kept); returns the relative paths."""
    rels = sorted(p.relative_to(local_dir).as_posix() for p in local_dir.rglob("*") if p.is_file())
    for rel in rels:
        write_bytes(join(folder, rel), (local_dir / rel).read_bytes())
    return rels


def download_tree(folder: str | Path, local_dir: Path, only: set[str] | None = None) -> list[str]:
    """Copy the files below `folder` (or just the relative paths in `only`) into `local_dir`."""
    rels = []
    for stored in list_files(folder):
        if only is not None and stored.relpath not in only:
            continue
        target = local_dir / stored.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_bytes(stored.location))
        rels.append(stored.relpath)
    return rels


def local_folder(location: str | Path, scratch_dir: str | Path | None = None) -> Path:
    """A local folder standing for `location`: itself when local, else private scratch space for it.

    Scratch (DuckDB spill, release staging, login sessions) is never shared between workers: it lives
    under `scratch_dir` (`Settings.scratch_dir`, BLUEPRINT_SCRATCH_DIR: the pod's emptyDir on a cluster),
    else the system temp folder.
    """
    if not is_object_store(location):
        return Path(normalize_root(location))
    base = Path(scratch_dir) if scratch_dir else Path(tempfile.gettempdir()) / "blueprint-scratch"
    parts = urlsplit(str(location))
    return base / parts.netloc / (parts.path.strip("/").replace("/", "__") or "_root")


def register_with_duckdb(con, data_root: str | Path | None) -> None:
    """Let DuckDB read and write `s3://` URLs under `data_root` through the same pyarrow filesystem (fsspec,
    no httpfs); a local or absent (None) data root needs nothing."""
    root = str(data_root or "")
    if not root.startswith("s3://"):
        return
    from fsspec.implementations.arrow import ArrowFSWrapper

    class _S3Wrapper(ArrowFSWrapper):
        protocol = "s3"

    if "s3" in con.list_filesystems():
        return
    filesystem, _ = resolve(root)
    con.register_filesystem(_S3Wrapper(filesystem))


FOLDER_MARKER = "_COMMITTED.json"


def publish_folder(local_dir: Path, folder: str) -> None:
    """Make `folder` in the store a copy of `local_dir`: files first, then the marker, then stale files go.

    The marker (written last, one atomic write) lists the files of the published version and their sizes,
    so a reader (`fetch_folder`) takes exactly one complete version. A copy of it is kept beside `local_dir`.
    """
    if normalize_root(local_dir) == normalize_root(folder):
        return  # a local data dir: the folder was written in place
    rels = [r for r in upload_tree(local_dir, folder) if r != FOLDER_MARKER]
    marker = {"files": {r: (local_dir / r).stat().st_size for r in rels}}
    data = json.dumps(marker, sort_keys=True).encode()
    write_bytes(join(folder, FOLDER_MARKER), data)
    _local_marker(local_dir).write_bytes(data)
    for stored in list_files(folder):
        if stored.relpath != FOLDER_MARKER and stored.relpath not in marker["files"]:
            delete_file(stored.location)


def fetch_folder(folder: str, local_dir: Path) -> Path:
    """`local_dir` holding the published version of `folder` (downloaded only when it is missing or stale)."""
    if normalize_root(local_dir) == normalize_root(folder):
        return local_dir
    remote = read_text(join(folder, FOLDER_MARKER))
    local_marker = _local_marker(local_dir)
    if remote is None or (local_marker.is_file() and local_marker.read_text() == remote):
        return local_dir
    if local_dir.exists():
        shutil.rmtree(local_dir)
    download_tree(folder, local_dir, only=set(json.loads(remote)["files"]))
    local_marker.write_text(remote)
    return local_dir


def _local_marker(local_dir: Path) -> Path:
    """Where the local copy of a folder's marker lives: beside it, so the folder holds only its own files."""
    return local_dir.parent / f".{local_dir.name}{FOLDER_MARKER}"
