"""024: reactions to messages (`message_reaction`), one per message and person, as WhatsApp keeps them: the
contacts' and ours; a removed one stays with an empty emoji, so that an older one delivered late is ignored."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class MessageReaction(pw.Model):
        id = pw.AutoField()
        message = pw.ForeignKeyField(column_name="message_id", field="id", model=migrator.orm["message"],
                                     on_delete="CASCADE")
        reactor = pw.CharField(max_length=128)
        emoji = pw.CharField(max_length=32)
        at = pw.DateTimeField()

        class Meta:
            table_name = "message_reaction"
            indexes = ((("message", "reactor"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("message_reaction")
