"""The pooled databases lend connections across threads, as the API's and the workers' threads need."""

from __future__ import annotations

import threading

from db.base import make_database


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
