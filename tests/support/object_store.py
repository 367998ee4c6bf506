"""A real S3-compatible server for tests (moto's server mode on 127.0.0.1) and content digests of a data root.

The server speaks the S3 HTTP API; BluePrint reaches it exactly as it would reach MinIO or AWS, through the
standard `AWS_ENDPOINT_URL` and credential variables. `digests` summarizes every lake partition (row count
and a hash of its rows) and every release file (a hash of its bytes), so two data roots can be compared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import Lake, committed_part, read_files

BUCKET = "blueprint-test"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    env: dict[str, str]

    def url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix.strip('/')}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        # Arrow keeps an empty `folder/` marker object when a folder's last file goes: not a file.
        return sorted(
            o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")
        )


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """Start moto's S3 server on a free local port, with one bucket; the AWS variables point at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        with mock.patch.dict(os.environ, env):
            s3 = S3Server(endpoint, env)
            s3.client().create_bucket(Bucket=BUCKET)
            yield s3
    finally:
        server.stop()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lake_digests(
    data_root: str, drop: dict[str, tuple[str, ...]] | None = None
) -> dict[str, tuple[int, str]]:
    """`table/key=value` -> (rows, sha256 of its rows) for every published partition (`drop`: columns left
    out of the hash, by table)."""
    lake = Lake(data_root)
    found = {}
    for table in storage.list_folders(lake.root):
        for partition in storage.list_folders(storage.join(lake.root, table)):
            path = committed_part(storage.join(lake.root, table, partition))
            if path is None:
                continue
            table_data = read_files([path])
            skip = [c for c in (drop or {}).get(table, ()) if c in table_data.column_names]
            rows = table_data.drop_columns(skip).to_pylist()
            text = "\n".join(json.dumps(r, sort_keys=True, default=str) for r in rows)
            found[f"{table}/{partition}"] = (len(rows), _sha(text.encode()))
    return found


def release_digests(data_root: str) -> dict[str, str]:
    """`release/relative path` -> sha256 of the bytes, for every file of every release folder."""
    releases = storage.join(storage.normalize_root(data_root), "releases")
    return {
        stored.relpath: _sha(storage.read_bytes(stored.location))
        for stored in storage.list_files(releases)
        if not stored.relpath.endswith(storage.FOLDER_MARKER)
    }
