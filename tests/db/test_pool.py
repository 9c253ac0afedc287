"""The pooled databases lend connections across threads, as the API's and the workers' threads need."""

from __future__ import annotations

import threading

import peewee
import pytest

from db.base import make_database
from tests.conftest import TEST_DATABASE_URL, _admin_execute


def test_a_sqlite_connection_opened_by_one_thread_serves_another(tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'wharf.db'}", pool_size=1)
    database.connect()
    database.execute_sql("CREATE TABLE t (n INTEGER)")
    database.close()  # back to the pool, opened by this thread
    answers: list = []

    def other_thread() -> None:
        database.connect()
        database.execute_sql("INSERT INTO t VALUES (1)")
        answers.append(database.execute_sql("SELECT count(*) FROM t").fetchone()[0])
        database.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert answers == [1]
    database.close_all()


def backend_pid(database) -> int:
    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def terminate(pid: int) -> None:
    _admin_execute(f"SELECT pg_terminate_backend({pid})")


def test_a_postgresql_connection_that_died_idle_in_the_pool_is_replaced_when_lent(database):
    pool = make_database(TEST_DATABASE_URL, pool_size=1)
    pool.RECHECK_AFTER_SECONDS = 0  # idle "long enough" to be checked: the round trip finds it dead
    pool.connect()
    dead = backend_pid(pool)
    pool.close()
    terminate(dead)

    pool.connect()

    assert backend_pid(pool) != dead
    pool.close()
    pool.close_all()


def test_a_connection_that_fails_is_not_lent_again(database):
    pool = make_database(TEST_DATABASE_URL, pool_size=1)
    pool.connect()
    dead = backend_pid(pool)
    pool.close()
    terminate(dead)  # handed back a moment ago: lent without a check, so the next statement fails

    pool.connect()
    with pytest.raises(peewee.DatabaseError):
        backend_pid(pool)
    pool.close()
    pool.connect()

    assert backend_pid(pool) != dead
    pool.close()
    pool.close_all()
