"""028: the messages' text indexed by trigrams (PostgreSQL's pg_trgm), so that a search for words said in a
conversation (`GET /api/messages?search=`, `GET /api/tickets?search=`: an `ILIKE '%…%'`) reads the index instead of
every message (BENCHMARKS.md, Message search). Migration 037 replaces it with one on the text without accents.

pg_trgm ships with PostgreSQL (its contrib package) and is trusted since PostgreSQL 13: a role with CREATE on the
database may add it. Where the server lacks it, or the role may not create it, the migration logs a warning and
adds nothing, rather than stopping the upgrade: the searches still work, reading the company's messages one by
one. Once pg_trgm can be had, a superuser or the database's owner adds both by hand:

    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX IF NOT EXISTS "message_body_trigram" ON "message" USING gin ("body" gin_trgm_ops);

Building it holds a lock that blocks writes to `message` until it is done (4 to 6 s for 400,000 messages here:
BENCHMARKS.md). On a large installation, build it beforehand without that lock (`CREATE INDEX CONCURRENTLY`, same
name and definition, outside a transaction): the migration then finds it and builds nothing. SQLite has no such
index: there a search reads every message.
"""

import logging

import peewee as pw
from peewee_migrate import Migrator

logger = logging.getLogger("db.migrate")
INDEX = "message_body_trigram"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    if fake or not isinstance(database, pw.PostgresqlDatabase):
        return
    try:
        with database.atomic():  # a savepoint: the upgrade's transaction goes on without it
            database.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except pw.DatabaseError as error:
        logger.warning("no trigram index on message texts: pg_trgm cannot be added (%s); searches read every "
                       "message (see db/migrations/028_message_body_trigram.py)", str(error).strip())
        return
    schema = database.execute_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()[0]
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "message" USING gin ("body" {schema}.gin_trgm_ops)')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    if not fake and isinstance(database, pw.PostgresqlDatabase):
        database.execute_sql(f'DROP INDEX IF EXISTS "{INDEX}"')  # pg_trgm stays: other things may use it
