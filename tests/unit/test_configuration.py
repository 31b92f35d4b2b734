"""Settings refuse a half-configured process, and say so in one line."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from pipeline.config import Settings, get_settings
from pipeline.errors import ConfigurationError
from tests.factories import make_settings

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"broker_url": "amqp://u:p@h/v", "redis_url": "redis://h/0", "database_url": "postgresql://h/db"}


@pytest.mark.parametrize(
    "named",
    [set(c) for n in (1, 2) for c in itertools.combinations(SERVICES, n)],
    ids=lambda named: "+".join(sorted(named)),
)
def test_a_mix_of_embedded_and_real_services_is_refused_naming_what_is_missing(named: set[str]) -> None:
    """Given one or two of the three services named, when the service mode is checked, then one line names the missing ones."""
    settings = make_settings(**{name: SERVICES[name] for name in named})
    with pytest.raises(ConfigurationError) as caught:
        settings.require_one_service_mode()
    message = str(caught.value)
    assert "\n" not in message
    for name in set(SERVICES) - named:
        assert name.upper() in message


def test_all_services_or_none_are_accepted() -> None:
    """Given no service or all three, when the mode is checked, then nothing is raised and `embedded` says which."""
    none, every = make_settings(), make_settings(**SERVICES)
    none.require_one_service_mode()
    every.require_one_service_mode()
    assert none.embedded and none.uses_bundled_emulator
    assert not every.embedded and not every.uses_bundled_emulator


def test_an_api_url_without_keys_is_refused() -> None:
    """Given YOUTUBE_API_URL but no YT_API_KEYS, when the mode is checked, then it is refused instead of failing every job."""
    with pytest.raises(ConfigurationError, match="YT_API_KEYS"):
        make_settings(youtube_api_url="http://127.0.0.1:1").require_one_service_mode()
    embedded_on_emulator = make_settings(youtube_api_url="http://127.0.0.1:1", yt_api_keys="k1")
    embedded_on_emulator.require_one_service_mode()
    assert embedded_on_emulator.embedded and not embedded_on_emulator.uses_bundled_emulator


def test_a_worker_needs_every_service_and_a_key() -> None:
    """Given the embedded mode, or services without keys, when a worker checks its settings, then it refuses."""
    with pytest.raises(ConfigurationError, match="dramatiq worker needs"):
        make_settings().require_worker_ready()
    with pytest.raises(ConfigurationError, match="YT_API_KEYS is empty"):
        make_settings(**SERVICES).require_worker_ready()
    make_settings(**SERVICES, yt_api_keys="k1").require_worker_ready()


def test_an_invalid_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given REFRESH_INTERVAL_HOURS=0, when the settings are read, then the error is one line naming it."""
    monkeypatch.setenv("REFRESH_INTERVAL_HOURS", "0")
    monkeypatch.chdir(REPO / "tests")  # no .env here
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("invalid setting REFRESH_INTERVAL_HOURS=0:")


def test_the_domain_never_imports_the_actor_layer_dramatiq_or_periodiq() -> None:
    """Given every module under pipeline/, when its imports are read, then none is actors, dramatiq or periodiq."""
    forbidden = ("actors", "dramatiq", "periodiq")
    offenders = []
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []
    assert len(list((REPO / "pipeline").rglob("*.py"))) > 20  # the walk really read the package


def test_settings_default_is_embedded_with_nothing_set() -> None:
    """Given no environment, when Settings is built, then it is the embedded mode on the bundled emulator."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.embedded and settings.uses_bundled_emulator
