"""037: searches that ignore accents on PostgreSQL ("joao" finds "João"): `f_unaccent(text)`, the text without its
accents by the `unaccent` extension, which `db.base.holds` applies to both sides of every search, and the trigram
index of migration 028 rebuilt on `f_unaccent(body)`, the expression the message search now reads
(BENCHMARKS.md, Message search).

`unaccent()` is only STABLE (its dictionary could change), and an index needs an IMMUTABLE function: hence the
wrapper, which names the extension's schema so that it does not depend on the caller's search_path. unaccent ships
with PostgreSQL (contrib) and is trusted: a role with CREATE on the database may add it. Where it cannot be added,
the migration logs a warning and makes `f_unaccent` return the text as it is: the searches still work, ignoring
case but not accents. Once unaccent can be had, a superuser or the database's owner adds it and rebuilds what
rests on the stand-in:

    CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent', $1) $$;  -- the schema the extension went to
    REINDEX INDEX "message_body_unaccent_trigram";  -- where pg_trgm is there

The index is built where pg_trgm is (migration 028), with the lock 028 describes (about as long as 028's); build
it beforehand without that lock (`CREATE INDEX CONCURRENTLY`, same name and definition) and the migration builds
nothing. SQLite needs none of this: every connection has `wharf_folded` (db/base.py).
"""

import logging

import peewee as pw
from peewee_migrate import Migrator

logger = logging.getLogger("db.migrate")
INDEX = "message_body_unaccent_trigram"
TRIGRAM_INDEX_OF_028 = "message_body_trigram"
EXTENSION_SCHEMA = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = %s"


def extension_schema(database: pw.Database, name: str) -> str | None:
    row = database.execute_sql(EXTENSION_SCHEMA, (name,)).fetchone()
    return row[0] if row else None


def unaccent_body(database: pw.Database) -> str:
    """The body of `f_unaccent`: the extension's unaccent, or, where it cannot be added, the text as it is."""
    try:
        with database.atomic():  # a savepoint: the upgrade's transaction goes on without it
            database.execute_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except pw.DatabaseError as error:
        logger.warning("searches ignore case but not accents: the unaccent extension cannot be added (%s) (see "
                       "db/migrations/037_unaccented_search.py)", str(error).strip())
        return "SELECT $1"
    schema = extension_schema(database, "unaccent")
    return f"SELECT {schema}.unaccent('{schema}.unaccent', $1)"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    if fake or not isinstance(database, pw.PostgresqlDatabase):
        return
    database.execute_sql("CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE "
                         f"PARALLEL SAFE STRICT AS $$ {unaccent_body(database)} $$")
    trigram_schema = extension_schema(database, "pg_trgm")
    if trigram_schema is None:  # 028 has warned
        return
    database.execute_sql(f'DROP INDEX IF EXISTS "{TRIGRAM_INDEX_OF_028}"')
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "message" USING gin '
                         f'(f_unaccent("body") {trigram_schema}.gin_trgm_ops)')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    if fake or not isinstance(database, pw.PostgresqlDatabase):
        return
    database.execute_sql(f'DROP INDEX IF EXISTS "{INDEX}"')
    database.execute_sql("DROP FUNCTION IF EXISTS f_unaccent(text)")  # unaccent stays: other things may use it
    trigram_schema = extension_schema(database, "pg_trgm")
    if trigram_schema is not None:
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{TRIGRAM_INDEX_OF_028}" ON "message" USING gin '
                             f'("body" {trigram_schema}.gin_trgm_ops)')
