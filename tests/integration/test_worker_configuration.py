"""A real `dramatiq` worker refuses a half-configured environment at once, with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AMQP_URL, PG_URL, REDIS_URL

BIN = Path(sys.executable).parent


def _start_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.endswith("_URL") and k != "YT_API_KEYS"}
    return subprocess.run(
        [str(BIN / "dramatiq"), "actors", "--processes", "1", "--threads", "1"],
        env={**base, **env},
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_with_a_broker_but_no_redis_or_database_exits_at_once(tmp_path: Path) -> None:
    """Given only BROKER_URL, when a dramatiq worker starts, then it exits 2 with one line naming REDIS_URL and DATABASE_URL."""
    done = _start_worker(tmp_path, BROKER_URL=AMQP_URL)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("ytcollect")]
    assert len(lines) == 1 and "REDIS_URL and DATABASE_URL are not" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.services
def test_a_worker_with_every_service_but_no_key_exits_at_once(tmp_path: Path) -> None:
    """Given the three services but no YT_API_KEYS, when a dramatiq worker starts, then it exits 2 saying a key is needed, starting no emulator."""
    done = _start_worker(tmp_path, BROKER_URL=AMQP_URL, REDIS_URL=REDIS_URL, DATABASE_URL=PG_URL)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("ytcollect")]
    assert lines == [
        "ytcollect worker: YT_API_KEYS is empty: a worker needs at least one YouTube Data API key"
    ]
    assert "emulator" not in done.stdout + done.stderr
