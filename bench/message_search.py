"""Searching messages by their text on PostgreSQL, without and with the trigram index of migration 037 (on the
messages' text without accents, `f_unaccent(body)`).

`MESSAGES` messages (default 200,000) of one company, 20 to a ticket, with another company's as many again
beside them, are written in one statement each; their texts are drawn from a few dozen words, an order
number and a random hex word, so a search for a hex word finds one or two messages and a search for a
common word tens of thousands. The app answers in this process (Flask's test client, an admin's token,
pages of 50 with their total), each search `ROUNDS` times (the median printed) first without the index,
then with it (its build timed). Beside them, in the same run: `GET /api/messages/:id` (the same app, token
and message shape, found by its primary key) and a plain `SELECT count(*) FROM message` (every row read).

Run: `.venv/bin/python bench/message_search.py [messages, default 200000]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services  # noqa: E402

MESSAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
PER_TICKET = 20
ROUNDS = 15
INDEX = "message_body_unaccent_trigram"
WORDS = ("Olá, bom dia", "meu pedido não chegou", "segue o boleto", "preciso da segunda via", "obrigado!",
         "quando chega a entrega?", "quero cancelar", "pode trocar o tamanho?", "a nota fiscal veio errada",
         "vou verificar e já retorno", "o código de rastreio é", "Pix enviado")


def fill(company_id: int, connection_id: int, count: int) -> int:
    """`count` messages of the company in tickets of `PER_TICKET`, one contact each; returns the first one's id."""
    from db.base import database

    tickets = count // PER_TICKET
    first_contact = database.execute_sql(
        "INSERT INTO contact (created_at, updated_at, company_id, name, phone, email, custom_fields, blocked, is_group) "
        "SELECT now(), now(), %s, 'Cliente ' || g, '+55119' || lpad(g::text, 8, '0'), NULL, '{}', false, false "
        "FROM generate_series(1, %s) g RETURNING id", (company_id, tickets)).fetchone()[0]
    first_ticket = database.execute_sql(
        "INSERT INTO ticket (created_at, updated_at, company_id, contact_id, connection_id, status, priority, "
        "unread_messages, last_message, is_group) "
        "SELECT now(), now(), %s, %s + g, %s, 'open', 0, 0, '', false FROM generate_series(0, %s - 1) g RETURNING id",
        (company_id, first_contact, connection_id, tickets)).fetchone()[0]
    words = "(ARRAY[" + ", ".join(f"'{text}'" for text in WORDS) + "])"
    return database.execute_sql(
        "INSERT INTO message (created_at, updated_at, company_id, ticket_id, connection_id, contact_id, direction, "
        "type, body, status, private, ack_overdue) "
        "SELECT now() - g * interval '1 second', now(), %s, %s + g %% %s, %s, %s + g %% %s, "
        "CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END, 'text', "
        f"{words}[1 + g %% {len(WORDS)}] || ' ' || (1000 + g %% 90000) || ' ' || substr(md5(g::text), 1, 10) "
        "|| CASE WHEN g %% 50000 = 7 THEN ' desconto de ' || g || '%% hoje' ELSE '' END, 'read', false, false "
        "FROM generate_series(0, %s - 1) g RETURNING id",
        (company_id, first_ticket, tickets, connection_id, first_contact, tickets, count)).fetchone()[0]


def median_ms(run, rounds: int = ROUNDS) -> float:
    run()  # warm: plans, caches
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def uses_index(client, headers, path: str) -> bool:
    """Whether PostgreSQL's plan of the request's search reads the trigram index: its statement is caught as the
    request runs it, and explained."""
    from db.base import database

    plans: list[str] = []
    execute = database.obj.execute_sql

    def explained(sql, params=None, *args, **kwargs):
        if "ILIKE" in sql and not plans:
            plans.extend(row[0] for row in execute("EXPLAIN " + sql, params).fetchall())
        return execute(sql, params, *args, **kwargs)

    database.obj.execute_sql = explained
    try:
        client.get(path, headers=headers)
    finally:
        del database.obj.execute_sql
    return any(INDEX in line for line in plans)


def main() -> None:
    with bench_services():
        from api.app import create_app
        from api.security import issue_tokens
        from db.base import database
        from db.companies import Company
        from db.connections import Connection
        from db.users import User

        database.connect(reuse_if_open=True)
        definition = database.execute_sql("SELECT pg_get_indexdef(%s::regclass)", (INDEX,)).fetchone()[0]
        database.execute_sql(f'DROP INDEX "{INDEX}"')  # written without it, then built once (as on an upgrade)
        company = Company.create(name="Bench")
        connection = Connection.create(company=company, name="bench", transport="simulator")
        other = Company.create(name="Other")
        started = time.perf_counter()
        first_message = fill(company.id, connection.id, MESSAGES)
        fill(other.id, Connection.create(company=other, name="other", transport="simulator").id, MESSAGES)
        database.execute_sql("VACUUM ANALYZE message")
        print(f"{2 * MESSAGES:,} messages of two companies written in {time.perf_counter() - started:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}")

        app = create_app()
        user = User.create(company=company, name="Bench", email="bench@example.com", password_hash="-", role="admin")
        with app.app_context():
            headers = {"Authorization": f"Bearer {issue_tokens(user)['accessToken']}"}
        client = app.test_client()
        rare = database.execute_sql("SELECT substr(md5(%s::text), 1, 10)", (MESSAGES // 3,)).fetchone()[0]
        searches = {
            "messages, a rare word": f"/api/messages?search={rare}",
            "messages, a rare text with %": "/api/messages?search=50007%25 hoje",
            "messages, common words": "/api/messages?search=segunda via",
            "tickets, a rare word": f"/api/tickets?search={rare}",
        }
        totals = {}
        for label, path in searches.items():
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, answer.get_json()
            totals[label] = answer.get_json()["total"]

        def count_all() -> None:
            database.execute_sql("SELECT count(*) FROM message").fetchone()

        def timed(path: str):
            return lambda: client.get(path, headers=headers)

        by_id = median_ms(timed(f"/api/messages/{first_message + MESSAGES // 2}"))
        scan = median_ms(count_all)
        without = {label: median_ms(timed(path)) for label, path in searches.items()}
        started = time.perf_counter()
        database.execute_sql(definition)
        built = time.perf_counter() - started
        database.execute_sql("ANALYZE message")
        with_index = {label: median_ms(timed(path)) for label, path in searches.items()}
        indexed = {label: uses_index(client, headers, path) for label, path in searches.items()}
        size = database.execute_sql(f"SELECT pg_size_pretty(pg_relation_size('{INDEX}'))").fetchone()[0]

        print(f"baseline: GET /api/messages/:id {by_id:.2f} ms; SELECT count(*) FROM message "
              f"({2 * MESSAGES:,} rows) {scan:.1f} ms")
        print(f"trigram index built in {built:.1f} s, {size}")
        for label in searches:
            print(f"{label:29s} {totals[label]:>7,} found  without index {without[label]:7.1f} ms  "
                  f"with {with_index[label]:7.1f} ms ({'reads the index' if indexed[label] else 'no index read'})  "
                  f"{with_index[label] / by_id:5.1f} × by id")


if __name__ == "__main__":
    main()
