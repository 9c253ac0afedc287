"""053: internal chat between a company's users (Whaticket's "Chat Interno"): chats (direct, one per pair, or with a
title), their members with when each last read, and their messages."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Chat(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")
        title = pw.CharField(max_length=100, null=True)
        direct_key = pw.CharField(max_length=40, null=True)
        created_by = pw.ForeignKeyField(column_name="created_by_id", field="id", model=migrator.orm["user"], null=True,
                                        on_delete="SET NULL")
        last_message_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "chat"
            indexes = ((("company", "direct_key"), True),)

    @migrator.create_model
    class ChatMember(pw.Model):
        id = pw.AutoField()
        chat = pw.ForeignKeyField(column_name="chat_id", field="id", model=migrator.orm["chat"], on_delete="CASCADE")
        user = pw.ForeignKeyField(column_name="user_id", field="id", model=migrator.orm["user"], on_delete="CASCADE")
        last_read_at = pw.DateTimeField()

        class Meta:
            table_name = "chat_member"
            indexes = ((("chat", "user"), True), (("user",), False))

    @migrator.create_model
    class ChatMessage(pw.Model):
        id = pw.AutoField()
        chat = pw.ForeignKeyField(column_name="chat_id", field="id", model=migrator.orm["chat"], on_delete="CASCADE")
        user = pw.ForeignKeyField(column_name="user_id", field="id", model=migrator.orm["user"], null=True,
                                  on_delete="SET NULL")
        body = pw.TextField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "chat_message"
            indexes = ((("chat", "created_at"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("chat_message")
    migrator.remove_model("chat_member")
    migrator.remove_model("chat")
