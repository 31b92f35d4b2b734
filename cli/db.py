"""``ytcollect db upgrade | current``: Alembic migrations from the installed package."""

import typer

from cli.app import app, console
from pipeline import db
from pipeline.config import get_settings

db_app = typer.Typer(help="database migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    engine = db.make_engine(get_settings().sqlalchemy_url)
    db.upgrade(engine, revision)
    console.print(f"database at revision {db.current_revision(engine)}")
    engine.dispose()


@db_app.command("current")
def current() -> None:
    """The database's revision and the newest one this package ships."""
    engine = db.make_engine(get_settings().sqlalchemy_url)
    console.print(f"database: {db.current_revision(engine)}  newest: {db.head_revision()}")
    engine.dispose()
