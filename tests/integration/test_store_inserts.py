"""Inserts that must tell a new row from an existing one do, on PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from models import DiscoveryCycle, Run, Watchlist
from pipeline import db, store
from pipeline.discovery import store as dstore
from tests.conftest import named, pg_url


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/inserts.db"
    else:
        request.getfixturevalue("services")
        name = named("store_inserts")
        admin = sa.create_engine(pg_url("postgres").replace("postgresql://", "postgresql+psycopg://"))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = pg_url(name).replace("postgresql://", "postgresql+psycopg://")
    engine = db.make_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def test_insert_run_says_true_once_then_false_for_a_resend(engine):
    """Given a new run id, when the run is inserted twice, then the first insert says it created the row and the second says it did not."""
    with Session(engine) as session:
        assert store.insert_run(session, run=Run(id="r-1", analysis_id="a", owner_id="o")) is True
        assert store.insert_run(session, run=Run(id="r-1", analysis_id="b", owner_id="p")) is False
        session.commit()
        assert session.get(Run, "r-1").analysis_id == "a"  # the resend changed nothing


def test_watchlists_and_cycles_are_created_once(engine):
    """Given a watchlist name and a cycle id, when each is inserted twice, then only the first insert creates a row."""
    with Session(engine) as session:
        first = Watchlist(id="w-1", owner_id="o", name="n", keywords=["k"])
        again = Watchlist(id="w-2", owner_id="o", name="n", keywords=["other"])
        assert dstore.insert_watchlist(session, watchlist=first) is True
        assert dstore.insert_watchlist(session, watchlist=again) is False
        cycle = DiscoveryCycle(id="c-1", owner_id="o", trigger="manual", keywords=["k"])
        assert dstore.insert_cycle(session, cycle=cycle, keywords=["k"]) is True
        assert dstore.insert_cycle(session, cycle=cycle, keywords=["k", "x"]) is False
        session.commit()
        assert [s.keyword for s in dstore.searches_of(session, cycle_id="c-1")] == ["k"]
