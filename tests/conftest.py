"""Shared test fixtures: the real services on 127.0.0.1, checked loudly, never silently skipped."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile

import pytest

PG_URL = os.environ.get("YTC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("YTC_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
AMQP_URL = os.environ.get("YTC_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# Two checkouts can run their suites side by side on one machine (scripts/test-namespace): each then
# names its own databases and vhosts with this suffix, on its own Redis.
TEST_NAMESPACE = os.environ.get("YTC_TEST_NAMESPACE", "")


def named(name: str) -> str:
    """A test module's own database or vhost name, suffixed with the checkout's namespace."""
    return f"{name}_{TEST_NAMESPACE}" if TEST_NAMESPACE else name


def redis_url(db: int) -> str:
    """Another database number on the test Redis (the one YTC_TEST_REDIS_URL names)."""
    return REDIS_URL.rsplit("/", 1)[0] + f"/{db}"


def pg_url(database: str) -> str:
    """Another database on the test PostgreSQL server."""
    return PG_URL.rsplit("/", 1)[0] + "/" + database


# The end-to-end fixtures (real services, emulator, worker) are available to every test module.
pytest_plugins = ["tests.integration.pipeline_harness", "tests.integration.api_harness"]

_SERVICES = {
    "PostgreSQL": (5432, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
    "Redis": (6379, 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'),
    "RabbitMQ": (5672, "rabbitmq-server -detached"),
}

# Tests must not pick up an operator's environment or .env: every setting they need is explicit.
for _var in ("BROKER_URL", "REDIS_URL", "DATABASE_URL", "YT_API_KEYS", "YOUTUBE_API_URL", "EMBEDDED_DIR"):
    os.environ.pop(_var, None)
# The embedded mode keeps its data in the user's data directory (XDG_DATA_HOME on Linux): a test that
# names no EMBEDDED_DIR of its own writes into this throwaway one, never into the real home.
_TEST_DATA_HOME = tempfile.mkdtemp(prefix="ytc-test-data-")
os.environ["XDG_DATA_HOME"] = _TEST_DATA_HOME
atexit.register(shutil.rmtree, _TEST_DATA_HOME, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def services() -> None:
    """Fail (not skip) with the command that starts whatever service is down."""
    down = [
        f"{name} (start it with: {hint})" for name, (port, hint) in _SERVICES.items() if not _answers(port)
    ]
    if down:
        pytest.fail("services down on 127.0.0.1: " + "; ".join(down), pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``services`` get the service check without asking for it."""
    for item in items:
        if item.get_closest_marker("services") or item.get_closest_marker("reliability"):
            item.fixturenames.insert(0, "services")  # type: ignore[attr-defined]
