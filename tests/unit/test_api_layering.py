"""The HTTP API calls pipeline and nothing below it: no database, Redis, model or actor import in api/."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"
# Exception types only, so a service that stops answering is a 503 rather than a 500.
ALLOWED = {"sqlalchemy.exc", "redis.exceptions"}
FORBIDDEN = ("sqlalchemy", "sqlmodel", "redis", "psycopg", "pika", "models", "actors", "dramatiq", "periodiq")
FORBIDDEN_PIPELINE = ("pipeline.store", "pipeline.db", "pipeline.resources", "pipeline.completion")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_api_modules_import_no_database_redis_model_or_actor_code():
    """Given every module under api/, when its imports are read, then none reaches the database, Redis, the models or the actors, nor pipeline's store, db, resources or completion."""
    found = {}
    for path in sorted(API.rglob("*.py")):
        bad = {
            name
            for name in imports(path)
            if name not in ALLOWED
            and (name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN_PIPELINE))
        }
        if bad:
            found[str(path.relative_to(API))] = sorted(bad)
    assert not found, found
    assert len(list(API.rglob("*.py"))) >= 10  # the walk saw the package
