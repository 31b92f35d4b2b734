"""The ``ytcollect`` entry point loads only what the invoked command needs."""

from __future__ import annotations

import subprocess
import sys

from cli import COMMAND_MODULES

PROBE = """
import sys
from cli import main
try:
    main({args!r})
except SystemExit:
    pass
print("HEAVY", sorted(m for m in ("sqlalchemy", "googleapiclient", "redis", "alembic") if m in sys.modules))
"""


def run_probe(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_plan_does_not_import_the_database_redis_or_the_api_client():
    """Given `ytcollect plan`, when it runs, then SQLAlchemy, Redis, Alembic and googleapiclient stay unloaded."""
    out = run_probe(["plan", "@someone", "--json"]).stdout
    assert '"kind": "handle"' in out
    assert "HEAVY []" in out


def test_help_still_lists_every_command():
    """Given `ytcollect --help`, when it runs, then every command of every module is listed."""
    out = run_probe(["--help"]).stdout
    for command in COMMAND_MODULES:
        assert command in out, command


def test_normalize_has_its_own_time_limit_and_other_stages_the_default():
    """Given the actors, then normalize (whose work grows with the run) gets its longer limit and resolve the default."""
    import dramatiq

    import actors  # noqa: F401
    from pipeline.config import get_settings

    broker = dramatiq.get_broker()
    settings = get_settings()
    assert broker.get_actor("normalize").options["time_limit"] == settings.normalize_time_limit_ms
    assert broker.get_actor("resolve").options["time_limit"] == settings.actor_time_limit_ms
    assert settings.normalize_time_limit_ms > settings.actor_time_limit_ms
