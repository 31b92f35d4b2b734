"""The deployment files agree with the code: every queue has workers, one scheduler, every variable is a
setting and is documented. Reads Procfile, docker-compose.yml, Dockerfile, .env.example and README.md.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import Settings
from pipeline.messages import QUEUES

ROOT = Path(__file__).resolve().parents[2]
WORKER_QUEUES = {*QUEUES.values(), "scheduled"}
SETTINGS_VARS = {name.upper() for name in Settings.model_fields}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


# --- reading the files --------------------------------------------------------------------------------


def procfile() -> dict[str, tuple[dict[str, str], list[str]]]:
    """Procfile entries: name -> (environment assignments before the command, argv)."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        words = shlex.split(command)
        env = {}
        while words and _ASSIGNMENT.match(words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        assert name.strip() not in entries, f"Procfile declares {name!r} twice"
        entries[name.strip()] = (env, words)
    return entries


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def app_services() -> dict[str, dict[str, Any]]:
    """The services built from our Dockerfile (RabbitMQ, Redis and PostgreSQL use their own images)."""
    return {name: svc for name, svc in compose_services().items() if "build" in svc}


def dramatiq_queues(words: list[str]) -> set[str]:
    """The queues a ``dramatiq actors --queues a b`` command line consumes ({} when not dramatiq)."""
    if not words or words[0] != "dramatiq":
        return set()
    assert words[1] == "actors", f"workers must load the actors package, not {words[1]!r}"
    assert "--queues" in words, f"a worker without --queues consumes every queue: {shlex.join(words)}"
    queues: set[str] = set()
    for word in words[words.index("--queues") + 1 :]:
        if word.startswith("-"):
            break
        queues.update(q for q in word.split(",") if q)
    return queues


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value list form
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def env_example() -> dict[str, str]:
    """Every ``NAME=value`` in .env.example, commented out or not."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def readme_configuration() -> str:
    """README.md's ``## Configuration`` section, up to the next second-level heading."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Configuration\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Configuration' section"
    return match.group(1)


def used_variables() -> dict[str, str]:
    """Every variable the app services and Procfile set or interpolate, with where it is used."""
    used: dict[str, str] = {}
    for name, service in app_services().items():
        for var in compose_environment(service):
            used.setdefault(var, f"docker-compose.yml service {name}")
    for var in _INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()):
        used.setdefault(var, "docker-compose.yml interpolation")
    for name, (env, _words) in procfile().items():
        for var in env:
            used.setdefault(var, f"Procfile entry {name}")
    return used


# --- workers and the scheduler ------------------------------------------------------------------------


def test_procfile_has_workers_for_every_queue():
    """Given the Procfile, when its dramatiq entries are read, then every queue (stages and `scheduled`) has a worker and none is unknown."""
    covered = set().union(*(dramatiq_queues(words) for _env, words in procfile().values()))
    assert covered == WORKER_QUEUES


def test_compose_has_workers_for_every_queue():
    """Given docker-compose.yml, when its dramatiq services are read, then every queue (stages and `scheduled`) has a worker and none is unknown."""
    covered = set().union(*(dramatiq_queues(argv(svc)) for svc in compose_services().values()))
    assert covered == WORKER_QUEUES


def test_procfile_and_compose_give_each_queue_its_own_workers():
    """Given both files, when the workers are listed, then each worker consumes exactly one queue so each queue scales alone."""
    worker_lines = [words for _env, words in procfile().values() if dramatiq_queues(words)]
    worker_lines += [argv(svc) for svc in compose_services().values() if dramatiq_queues(argv(svc))]
    for words in worker_lines:
        assert len(dramatiq_queues(words)) == 1, shlex.join(words)
        assert "--processes" in words and "--threads" in words, (
            f"explicit sizes, not CPU-count defaults: {shlex.join(words)}"
        )


def test_exactly_one_periodiq_scheduler_in_each_file():
    """Given the Procfile and docker-compose.yml, when their commands are read, then each runs `periodiq actors` exactly once."""
    in_procfile = [words for _env, words in procfile().values() if words[:1] == ["periodiq"]]
    in_compose = [name for name, svc in compose_services().items() if argv(svc)[:1] == ["periodiq"]]
    assert in_procfile == [["periodiq", "actors"]]
    assert len(in_compose) == 1
    assert argv(compose_services()[in_compose[0]]) == ["periodiq", "actors"]
    assert "deploy" not in compose_services()[in_compose[0]], "the scheduler must never be replicated"


def test_every_compose_worker_restarts_unless_stopped():
    """Given docker-compose.yml, when the worker and scheduler services are read, then each has `restart: unless-stopped` (the dramatiq master exits when a worker process dies)."""
    long_running = {
        name: svc for name, svc in compose_services().items() if argv(svc)[:1] in (["dramatiq"], ["periodiq"])
    }
    assert long_running
    for name, svc in long_running.items():
        assert svc.get("restart") == "unless-stopped", name


def test_compose_workers_wait_for_the_migration_and_healthy_services():
    """Given docker-compose.yml, when the workers' dependencies are read, then they wait for `migrate` to complete and for healthy RabbitMQ, Redis and PostgreSQL."""
    services = compose_services()
    migrate = services["migrate"]
    assert argv(migrate) == ["ytcollect", "db", "upgrade"]
    assert migrate.get("restart") == "no"
    for name, svc in services.items():
        if not dramatiq_queues(argv(svc)):
            continue
        deps = svc["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        for infra in ("rabbitmq", "redis", "postgres"):
            assert deps[infra]["condition"] == "service_healthy", (name, infra)


def test_compose_infrastructure_has_healthchecks():
    """Given docker-compose.yml, when RabbitMQ, Redis and PostgreSQL are read, then each has the healthcheck the workers wait on."""
    services = compose_services()
    assert services["rabbitmq"]["image"] == "rabbitmq:3-management"
    assert "rabbitmq-diagnostics" in services["rabbitmq"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "ping" in [part.lower() for part in services["redis"]["healthcheck"]["test"]]


def test_emulator_is_development_only_in_both_files():
    """Given both files, when the emulator entries are read, then compose runs it only under the `dev` profile and the Procfile has one."""
    emulator = compose_services()["emulator"]
    assert emulator["profiles"] == ["dev"]
    assert argv(emulator)[:2] == ["ytcollect", "emulator"]
    assert procfile()["emulator"][1][:2] == ["ytcollect", "emulator"]


def test_app_services_are_built_from_the_dockerfile():
    """Given docker-compose.yml and the Dockerfile, when the app services are read, then all use the one image built from python:3.11-slim with `pip install .`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", dockerfile, re.M)
    assert re.search(r"^RUN pip install \.", dockerfile, re.M)
    commands = {argv(svc)[0] for svc in app_services().values()}
    assert commands == {"dramatiq", "periodiq", "ytcollect"}
    assert {svc["build"] for svc in app_services().values()} == {"."}


def test_every_command_is_an_installed_console_script():
    """Given both files, when each command's executable is looked up, then it is a console script this environment installs."""
    from importlib.metadata import entry_points

    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    commands = {words[0] for _env, words in procfile().values()}
    commands |= {argv(svc)[0] for svc in app_services().values()}
    assert commands <= scripts, commands - scripts


# --- variables ------------------------------------------------------------------------------------------


def test_every_variable_used_is_a_setting():
    """Given the app services and the Procfile, when their variables are collected, then each is a Settings field (upper-cased)."""
    unknown = {var: where for var, where in used_variables().items() if var not in SETTINGS_VARS}
    assert not unknown, f"not a Settings field: {unknown}"


def test_compose_sets_the_services_the_settings_read():
    """Given the x-app environment of docker-compose.yml, when read, then it sets the four service variables so nothing runs embedded."""
    shared = compose_environment(compose()["x-app"])
    for var in ("BROKER_URL", "REDIS_URL", "DATABASE_URL", "YT_API_KEYS", "YOUTUBE_API_URL"):
        assert var in shared, var
    assert shared["BROKER_URL"].startswith("amqp://")
    assert shared["DATABASE_URL"].startswith("postgresql://")


def test_every_setting_is_in_env_example():
    """Given Settings and .env.example, when the example's NAME= lines are read, then every field is there and nothing else."""
    documented = set(env_example())
    assert SETTINGS_VARS - documented == set(), "missing from .env.example"
    assert documented - SETTINGS_VARS == set(), "in .env.example but not a setting"


def test_env_example_values_are_valid_settings():
    """Given .env.example, when every example value is loaded into Settings, then it validates."""
    values = {name.lower(): value for name, value in env_example().items()}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    assert settings.metrics_host == "127.0.0.1"
    assert settings.metrics_port == 9191


def test_env_example_holds_no_real_key():
    """Given .env.example, when searched for a Google API key's shape, then nothing matches (placeholders only)."""
    assert not re.search(r"AIza[0-9A-Za-z_\-]{35}", (ROOT / ".env.example").read_text())


def test_every_setting_is_in_the_readme_configuration():
    """Given Settings and README.md, when its Configuration section is read, then it names every field's variable."""
    section = readme_configuration()
    missing = sorted(var for var in SETTINGS_VARS if not re.search(rf"\b{var}\b", section))
    assert not missing, f"missing from README's Configuration: {missing}"


@pytest.mark.parametrize("var", sorted(set(used_variables())))
def test_every_variable_used_is_documented(var):
    """Given a variable that compose or the Procfile sets, when the docs are read, then .env.example and the README's Configuration section both name it."""
    assert var in env_example()
    assert re.search(rf"\b{var}\b", readme_configuration())


def test_procfile_metrics_ports_are_distinct():
    """Given the Procfile, when the worker entries' METRICS_PORT are read, then each group on a host has its own port."""
    ports = [env.get("METRICS_PORT") for env, words in procfile().values() if dramatiq_queues(words)]
    assert None not in ports, "a worker group without METRICS_PORT would collide on the default"
    assert len(set(ports)) == len(ports)


# --- actors -----------------------------------------------------------------------------------------------


def test_every_actor_queue_matches_the_contract_and_has_workers():
    """Given the declared actors, when their queues are compared with pipeline.messages.QUEUES and the worker files, then they match and every actor's queue has workers."""
    import dramatiq

    import actors  # noqa: F401  (declares every actor on the broker)

    broker = dramatiq.get_broker()
    for actor_name, queue in QUEUES.items():
        assert broker.get_actor(actor_name).queue_name == queue, actor_name
    actor_queues = {broker.get_actor(name).queue_name for name in broker.get_declared_actors()}
    assert actor_queues == WORKER_QUEUES
    for name in ("reconcile", "refresh", "reresolve", "purge", "discover_due"):
        assert broker.get_actor(name).queue_name == "scheduled", name


def _defaults() -> dict[str, Any]:
    return {
        name.upper(): field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }


def _same(documented: str, default: Any) -> bool:
    if isinstance(default, bool):
        return documented.lower() == str(default).lower()
    if isinstance(default, int | float):
        return float(documented.replace("_", "").replace(",", "")) == float(default)
    return documented == str(default)


def test_env_example_commented_values_are_the_defaults():
    """Given .env.example's commented-out `# NAME=value` lines (documenting a default), when compared with Settings, then each value is the field's default."""
    defaults = _defaults()
    commented = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#\s*([A-Z][A-Z0-9_]*)=(.+)$", line)
        if match and defaults.get(match.group(1)) not in (None, []):
            commented[match.group(1)] = match.group(2).strip()
    assert len(commented) > 10, "the check would prove nothing"
    wrong = {k: (v, defaults[k]) for k, v in commented.items() if not _same(v, defaults[k])}
    assert wrong == {}, "documented default differs from Settings: {name: (documented, real)}"


def test_readme_configuration_defaults_are_the_settings_defaults():
    """Given the README's configuration table, when a row's default is one backticked value, then it is the field's default."""
    defaults = _defaults()
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| `([^`|]+)` \|", readme_configuration(), re.M)
    checked = {name: value for name, value in rows if name in defaults and defaults[name] not in (None, [])}
    assert len(checked) > 10, "the check would prove nothing"
    wrong = {k: (v, defaults[k]) for k, v in checked.items() if not _same(v, defaults[k])}
    assert wrong == {}, "README default differs from Settings: {name: (documented, real)}"


# --- the HTTP API -------------------------------------------------------------------------------------


def test_web_serves_the_api_in_the_procfile_and_compose_alike():
    """Given the Procfile and docker-compose.yml, when their `web` entries are read, then both run `ytcollect serve` on all interfaces, compose restarts it and waits for the migration, and its port is published on loopback only."""
    env, words = procfile()["web"]
    assert words[:2] == ["ytcollect", "serve"] and words[words.index("--host") + 1] == "0.0.0.0"
    web = compose_services()["web"]
    assert argv(web) == ["ytcollect", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert web["restart"] == "unless-stopped"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["ports"] == ["127.0.0.1:8000:8000"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    worker_ports = {e.get("METRICS_PORT") for e, w in procfile().values() if dramatiq_queues(w)}
    assert env.get("METRICS_PORT") and env["METRICS_PORT"] not in worker_ports


def test_readme_documents_serve_tokens_and_the_web_entry():
    """Given README.md, when read, then it names `ytcollect serve`, `ytcollect tokens create`, the `web` process and the live event routes."""
    text = (ROOT / "README.md").read_text()
    for needle in (
        "ytcollect serve",
        "ytcollect tokens create",
        "`web`",
        "/v1/runs/{id}/events",
        "/v1/runs/{id}/stream",
    ):
        assert needle in text, needle
