"""`ckan_site`: a real CKAN 2.12 on loopback, for the tests of `opendata publish --ckan`.

One per session, in a fresh temporary folder: PostgreSQL 15 and Redis from Debian, and
CKAN from its own venv (.venv-ckan: its pins clash with ours) with the test-only plugin
tests/ckan/ckanext-opendata_test, which stands in for Solr (its docstring says what that
leaves out: `package_search`, and organization dataset counts). `make test` installs all
of it; without it the tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline.vocabulary import LICENSES

from conftest import free_ports

ROOT = Path(__file__).resolve().parent.parent
CKAN_VENV = ROOT / ".venv-ckan"
CKAN = CKAN_VENV / "bin" / "ckan"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MAX_RESOURCE_SIZE_MB = 1  # small, so that a test can provoke "upload too large" cheaply
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class CkanSite:
    url: str
    # Secrets: kept out of reprs, so no test report prints them.
    token: str = field(repr=False)  # `user`'s: editor of `organization`
    other_token: str = field(repr=False)  # `other_user`'s: editor of `other_organization` only
    user: str
    other_user: str
    organization: str
    other_organization: str
    other_dataset: str  # a dataset name owned by `other_organization`
    legacy_organization: str  # the ward's existing catalog (`user` edits it), for `import`
    max_resource_size_mb: int
    logs: Path  # the services' logs, while the session lasts


class _Services:
    """The session's processes, each in its own process group so that stopping leaves nothing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[tuple[str, subprocess.Popen[bytes], int]] = []  # all: stop() ends them
        self.services: set[str] = set()  # those that must stay up
        # CKAN_* variables override the ini (CKAN_SQLALCHEMY_URL, CKAN___…): keep a developer's out.
        self.env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CKAN")}

    def spawn(
        self, name: str, cmd: list[Any], stop: int = signal.SIGTERM, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        with open(self.root / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [str(c) for c in cmd],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                **kwargs,
            )
        self.started.append((name, process, stop))
        return process

    def serve(self, name: str, cmd: list[Any], **kwargs: Any) -> None:
        self.spawn(name, cmd, **kwargs)
        self.services.add(name)

    def finish(self, name: str, process: subprocess.Popen[bytes]) -> None:
        if process.wait(timeout=START_TIMEOUT) != 0:
            raise RuntimeError(f"{name} exited {process.returncode}:\n{self.tail(name)}")

    def run(self, name: str, cmd: list[Any], **kwargs: Any) -> None:
        self.finish(name, self.spawn(name, cmd, **kwargs))

    def wait_until(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            for dead, process, _ in self.started:
                if dead in self.services and process.poll() is not None:
                    raise RuntimeError(f"{dead} died, waiting for {name}:\n{self.tail(dead)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not up after {START_TIMEOUT:.0f} s:\n{self.tail(name)}")
            time.sleep(0.1)

    def tail(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        # In reverse: CKAN first, so PostgreSQL has no clients left when it goes.
        for _, process, stop in reversed(self.started):
            if process.poll() is None:
                with suppress(ProcessLookupError):  # it may end meanwhile
                    os.killpg(process.pid, stop)
        for _, process, _ in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(json.load(response)["success"])
    except (OSError, ValueError):
        return False


def _set_options(ini: Path, options: dict[str, object]) -> None:
    """Set options in [app:main] of the ini that `ckan generate config` wrote."""
    lines = ini.read_text().splitlines()
    start = lines.index("[app:main]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    todo = {k: str(v) for k, v in options.items()}
    for i in range(start, end):
        key = lines[i].split("=", 1)[0].strip()
        if "=" in lines[i] and not lines[i].startswith("#") and key in todo:
            lines[i] = f"{key} = {todo.pop(key)}"
    lines[end:end] = [f"{k} = {v}" for k, v in todo.items()]
    ini.write_text("\n".join(lines) + "\n")


def _start(root: Path, services: _Services, datastore: bool = False) -> CkanSite:
    pg_port, redis_port, ckan_port, no_solr_port = free_ports(4)
    url = f"http://127.0.0.1:{ckan_port}"
    pgdata = root / "pgdata"
    pgdata.mkdir()
    as_postgres: dict[str, Any] = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root (CI is root)
        account = pwd.getpwnam("postgres")  # made by Debian's postgresql package
        os.chown(pgdata, account.pw_uid, account.pw_gid)
        root.chmod(0o711)  # mkdtemp's 0700 would keep the postgres user out
        as_postgres = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    # What doesn't depend on anything, side by side.
    ini = root / "ckan.ini"
    config = services.spawn("config", [CKAN, "generate", "config", ini])
    redis = ["redis-server", "--port", redis_port, "--bind", "127.0.0.1", "--dir", root]
    services.serve("redis", [*redis, "--save", "", "--appendonly", "no"])  # nothing on disk
    initdb = [PG_BIN / "initdb", "-D", pgdata, "-U", "ckan", "--auth=trust", "-E", "UTF8"]
    services.run("initdb", [*initdb, "--no-locale", "--no-sync"], cwd=pgdata, **as_postgres)
    # A throwaway cluster: durability off for speed; TCP only, so no socket directory is needed.
    fast = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    only_tcp = ["listen_addresses=127.0.0.1", "unix_socket_directories="]
    services.serve(
        "postgres",
        [PG_BIN / "postgres", "-D", pgdata, "-p", pg_port]
        + [arg for option in fast + only_tcp for arg in ("-c", option)],
        stop=signal.SIGINT,  # "fast shutdown": SIGTERM would wait for clients to leave
        cwd=pgdata,
        **as_postgres,
    )
    services.finish("config", config)
    (root / "storage").mkdir()
    # The licences the ward's CKAN lists (stock CKAN knows `cc-by`, not `CC-BY-4.0`).
    licences = [
        {"id": key, "title": value["title"], "url": value["path"], "status": "active"}
        for key, value in LICENSES.items()
    ]
    (root / "licenses.json").write_text(json.dumps(licences), encoding="utf-8")
    database = f"postgresql://{{}}@127.0.0.1:{pg_port}/{{}}"
    # The DataStore (benchmarks/bench_datastore.py): a database of its own, read-only role.
    stores = {
        "ckan.datastore.write_url": database.format("ckan", "datastore"),
        "ckan.datastore.read_url": database.format("datastore_ro", "datastore"),
        "ckan.datastore.sqlsearch.enabled": "true",
    }
    _set_options(
        ini,
        (stores if datastore else {})
        | {
            "sqlalchemy.url": database.format("ckan", "ckan"),
            "ckan.site_url": url,
            "ckan.redis.url": f"redis://127.0.0.1:{redis_port}/0",
            "ckan.storage_path": root / "storage",  # where resource uploads go
            "ckan.max_resource_size": MAX_RESOURCE_SIZE_MB,
            "licenses_group_url": f"file://{root / 'licenses.json'}",
            "ckan.plugins": "opendata_test spatial_metadata dcat" + (" datastore" * datastore),
            "solr_url": f"http://127.0.0.1:{no_solr_port}/solr",  # refused at once: no Solr
        },
    )
    pg = ["-h", "127.0.0.1", "-p", str(pg_port), "-U", "ckan"]
    services.wait_until(
        "postgres",
        lambda: (
            subprocess.run([PG_BIN / "pg_isready", "-q", *pg, "-d", "postgres"]).returncode == 0
        ),
    )
    services.run("createdb", [PG_BIN / "createdb", *pg, "ckan"])
    if datastore:
        services.run("createdb-datastore", [PG_BIN / "createdb", *pg, "datastore"])
        psql = [PG_BIN / "psql", *pg, "-v", "ON_ERROR_STOP=1", "-q"]
        services.run("role", [*psql, "-d", "postgres", "-c", "CREATE ROLE datastore_ro LOGIN"])
        permissions = subprocess.run(
            [str(CKAN), "-c", str(ini), "datastore", "set-permissions"],
            env=services.env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (root / "permissions.sql").write_text(permissions, encoding="utf-8")
        services.run("permissions", [*psql, "-d", "datastore", "-f", root / "permissions.sql"])
    services.run("db-init", [CKAN, "-c", ini, "db", "init"])
    # The server starts while the seed runs: each loads CKAN for a few seconds.
    # -r: no reloader (it would fork a child); -D: no debugger; -t: a thread per request.
    server = [CKAN, "-c", ini, "run", "-H", "127.0.0.1", "-p", ckan_port, "-r", "-D", "-t"]
    services.serve("ckan", server)
    world_file = root / "world.json"
    services.run("seed", [CKAN, "-c", ini, "opendata-test-seed", world_file])
    services.wait_until("ckan", lambda: _answers(f"{url}/api/3/action/status_show"))
    world = json.loads(world_file.read_text())
    return CkanSite(url=url, max_resource_size_mb=MAX_RESOURCE_SIZE_MB, logs=root, **world)


@contextmanager
def running_ckan(datastore: bool = False) -> Iterator[CkanSite]:
    """A CKAN (with its DataStore if asked) for as long as the block runs."""
    root = Path(tempfile.mkdtemp(prefix="ckan-site-"))
    services = _Services(root)
    try:
        yield _start(root, services, datastore)
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def ckan_site() -> Iterator[CkanSite]:
    if not (CKAN_VENV / ".ckan").exists():
        why = f"no CKAN in {CKAN_VENV}: `make {CKAN_VENV.name}/.ckan` installs it"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with running_ckan() as site:
        yield site
