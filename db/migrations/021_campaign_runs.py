"""021: a recurring (cron) campaign sends to its whole audience on every run, so its ledger is per run:
`campaign.run` numbers the current one and each `campaign_shipping` row belongs to one (every row so far
to run 1). A recipient is unique per campaign and run, no longer per campaign."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("campaign", run=pw.IntegerField(default=1))
    migrator.add_fields("campaign_shipping", run=pw.IntegerField(default=1))
    # Raw SQL: the index names are the model's (`campaignshipping_...`); see 019.
    migrator.sql('DROP INDEX "campaignshipping_campaign_id_contact_id"')
    migrator.sql('CREATE UNIQUE INDEX "campaignshipping_campaign_id_run_contact_id" '
                 'ON "campaign_shipping" ("campaign_id", "run", "contact_id")')
    migrator.orm["campaign_shipping"]._meta.indexes = [(("campaign", "run", "contact"), True),
                                                       (("campaign", "status", "id"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    # Back to one row per recipient: of a recipient's rows, the first run's stays.
    migrator.sql('DELETE FROM "campaign_shipping" WHERE EXISTS (SELECT 1 FROM "campaign_shipping" AS "first" '
                 'WHERE "first"."campaign_id" = "campaign_shipping"."campaign_id" '
                 'AND "first"."contact_id" = "campaign_shipping"."contact_id" AND "first"."run" < "campaign_shipping"."run")')
    migrator.sql('DROP INDEX "campaignshipping_campaign_id_run_contact_id"')
    migrator.sql('CREATE UNIQUE INDEX "campaignshipping_campaign_id_contact_id" '
                 'ON "campaign_shipping" ("campaign_id", "contact_id")')
    migrator.orm["campaign_shipping"]._meta.indexes = [(("campaign", "contact"), True),
                                                       (("campaign", "status", "id"), False)]
    migrator.remove_fields("campaign_shipping", "run")
    migrator.remove_fields("campaign", "run")
