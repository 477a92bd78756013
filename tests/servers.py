"""Real servers for the tests that need one, on 127.0.0.1, started and stopped by the test.

PostgreSQL and Redis come from Debian's packages (`.ci/run` installs them when missing).
Without them a test is skipped locally, but fails under CI, so CI can never pass by skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _missing(what: str) -> None:
    message = f"{what} not installed (Debian package; `.ci/run` installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no server on 127.0.0.1:{port} after {seconds} s")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster in a new temporary folder; yields its URL."""
    binaries = _postgres_bin()
    if binaries is None:
        _missing("PostgreSQL")
    # Its own folder outside pytest's (mode 700) tree: as root, the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="retain-pg-"))
    data, port = folder / "pgdata", free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not _has_user("postgres"):
            _missing("the postgres system user")
        shutil.chown(folder, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, binaries / "initdb", "-D", data, "-U", "retain", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    subprocess.run(
        [*run_as, binaries / "pg_ctl", "-D", data, "-o", options, "-l", folder / "pg.log", "-w"]
        + ["start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://retain@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis server with no persistence; yields its `redis://` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
