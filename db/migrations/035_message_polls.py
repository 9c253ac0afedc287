"""035: polls (`message.poll`, JSON text: the question, its options and how many a person may choose) and the votes on
them (`poll_vote`), one per poll and person, as WhatsApp keeps them; a withdrawn one stays with no options, so that an
older one delivered late is ignored."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", poll=pw.TextField(null=True))

    @migrator.create_model
    class PollVote(pw.Model):
        id = pw.AutoField()
        message = pw.ForeignKeyField(column_name="message_id", field="id", model=migrator.orm["message"],
                                     on_delete="CASCADE")
        voter = pw.CharField(max_length=128)
        options = pw.TextField()
        at = pw.DateTimeField()

        class Meta:
            table_name = "poll_vote"
            indexes = ((("message", "voter"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("poll_vote")
    migrator.remove_fields("message", "poll")
