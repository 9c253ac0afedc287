"""001: the initial schema (companies, users, queues, connections, contacts, tickets, messages, jobs)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Plan(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        name = pw.CharField(max_length=100, unique=True)
        max_users = pw.IntegerField(default=10)
        max_connections = pw.IntegerField(default=3)
        max_campaigns = pw.IntegerField(default=20)
        price_cents = pw.IntegerField(default=0)
        active = pw.BooleanField(default=True)

        class Meta:
            table_name = "plan"

    @migrator.create_model
    class Company(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        name = pw.CharField(max_length=200)
        plan = pw.ForeignKeyField(column_name='plan_id', field='id', model=migrator.orm['plan'], null=True, on_delete='SET NULL')
        status = pw.CharField(default='active', index=True, max_length=20)
        timezone = pw.CharField(default='UTC', max_length=64)
        default_country = pw.CharField(default='BR', max_length=2)
        email = pw.CharField(max_length=254, null=True)

        class Meta:
            table_name = "company"

    @migrator.create_model
    class Queue(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        name = pw.CharField(max_length=100)
        color = pw.CharField(default='#7c7c7c', max_length=9)
        greeting = pw.TextField(default='')
        priority = pw.IntegerField(default=0)
        business_hours = pw.TextField()
        out_of_hours_message = pw.TextField(default='')
        menu_options = pw.TextField()

        class Meta:
            table_name = "queue"
            indexes = [(('company', 'name'), True)]

    @migrator.create_model
    class Connection(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        name = pw.CharField(max_length=100)
        transport = pw.CharField(default='simulator', max_length=20)
        status = pw.CharField(default='stopped', index=True, max_length=20)
        phone = pw.CharField(max_length=32, null=True)
        is_default = pw.BooleanField(default=False)
        default_queue = pw.ForeignKeyField(column_name='default_queue_id', field='id', model=migrator.orm['queue'], null=True, on_delete='SET NULL')
        greeting_message = pw.TextField(default='')
        farewell_message = pw.TextField(default='')
        last_seen_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "connection"
            indexes = [(('company', 'name'), True)]

    @migrator.create_model
    class Contact(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        name = pw.CharField(default='', max_length=200)
        phone = pw.CharField(max_length=64)
        email = pw.CharField(max_length=254, null=True)
        custom_fields = pw.TextField()
        blocked = pw.BooleanField(default=False)
        is_group = pw.BooleanField(default=False)
        opted_out_at = pw.DateTimeField(null=True)
        profile_pic_url = pw.TextField(null=True)

        class Meta:
            table_name = "contact"
            indexes = [(('company', 'phone'), True), (('company', 'name'), False)]

    @migrator.create_model
    class Tag(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        name = pw.CharField(max_length=100)
        color = pw.CharField(default='#7c7c7c', max_length=9)

        class Meta:
            table_name = "tag"
            indexes = [(('company', 'name'), True)]

    @migrator.create_model
    class ContactTag(pw.Model):
        id = pw.AutoField()
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], on_delete='CASCADE')
        tag = pw.ForeignKeyField(column_name='tag_id', field='id', model=migrator.orm['tag'], on_delete='CASCADE')

        class Meta:
            table_name = "contact_tag"
            indexes = [(('contact', 'tag'), True)]

    @migrator.create_model
    class IdempotencyKey(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        key = pw.CharField(max_length=255)
        fingerprint = pw.CharField(max_length=64)
        status_code = pw.IntegerField(null=True)
        response = pw.TextField(null=True)
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "idempotency_key"
            indexes = [(('company', 'key'), True)]

    @migrator.create_model
    class User(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        name = pw.CharField(max_length=200)
        email = pw.CharField(max_length=254, unique=True)
        password_hash = pw.CharField(max_length=255)
        role = pw.CharField(default='agent', index=True, max_length=20)
        online_status = pw.CharField(default='offline', max_length=10)
        max_open_tickets = pw.IntegerField(null=True)
        permissions = pw.TextField()
        parent = pw.ForeignKeyField(column_name='parent_id', field='id', model='self', null=True, on_delete='SET NULL')
        active = pw.BooleanField(default=True)
        last_seen_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "user"
            indexes = [(('company', 'role'), False)]

    @migrator.create_model
    class Job(pw.Model):
        id = pw.CharField(max_length=36, primary_key=True)
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], null=True, on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        kind = pw.CharField(max_length=60)
        queue_name = pw.CharField(default='default', max_length=60)
        status = pw.CharField(default='queued', max_length=10)
        progress = pw.FloatField(default=0.0)
        result = pw.TextField(null=True)
        error = pw.TextField(null=True)
        attempts = pw.IntegerField(default=0)
        message = pw.TextField()
        created_at = pw.DateTimeField()
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "job"
            indexes = [(('company', 'created_at'), False), (('status', 'created_at'), False)]

    @migrator.create_model
    class Ticket(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], on_delete='CASCADE')
        connection = pw.ForeignKeyField(column_name='connection_id', field='id', model=migrator.orm['connection'], null=True, on_delete='SET NULL')
        queue = pw.ForeignKeyField(column_name='queue_id', field='id', model=migrator.orm['queue'], null=True, on_delete='SET NULL')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        status = pw.CharField(default='pending', max_length=10)
        priority = pw.IntegerField(default=0)
        unread_messages = pw.IntegerField(default=0)
        last_message = pw.TextField(default='')
        last_message_at = pw.DateTimeField(null=True)
        is_group = pw.BooleanField(default=False)
        first_response_at = pw.DateTimeField(null=True)
        closed_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "ticket"
            indexes = [(('company', 'status', 'updated_at'), False), (('company', 'queue', 'status'), False), (('company', 'user', 'status'), False), (('contact', 'connection', 'status'), False)]

    @migrator.create_model
    class Message(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        ticket = pw.ForeignKeyField(column_name='ticket_id', field='id', model=migrator.orm['ticket'], null=True, on_delete='CASCADE')
        connection = pw.ForeignKeyField(column_name='connection_id', field='id', model=migrator.orm['connection'], null=True, on_delete='SET NULL')
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], null=True, on_delete='SET NULL')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        direction = pw.CharField(max_length=3)
        type = pw.CharField(default='text', max_length=12)
        body = pw.TextField(default='')
        media_path = pw.TextField(null=True)
        media_mimetype = pw.CharField(max_length=100, null=True)
        media_name = pw.CharField(max_length=255, null=True)
        status = pw.CharField(default='queued', max_length=10)
        error = pw.TextField(null=True)
        wa_id = pw.CharField(max_length=128, null=True)
        idempotency_key = pw.CharField(max_length=255, null=True)
        quoted_message = pw.ForeignKeyField(column_name='quoted_message_id', field='id', model='self', null=True, on_delete='SET NULL')
        private = pw.BooleanField(default=False)
        sent_at = pw.DateTimeField(null=True)
        delivered_at = pw.DateTimeField(null=True)
        read_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "message"
            indexes = [(('connection', 'wa_id'), True), (('company', 'idempotency_key'), True), (('ticket', 'created_at'), False), (('company', 'status'), False)]

    @migrator.create_model
    class PasswordReset(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], on_delete='CASCADE')
        otp_hash = pw.CharField(max_length=128)
        expires_at = pw.DateTimeField()
        attempts = pw.IntegerField(default=0)
        emailed_at = pw.DateTimeField(null=True)
        verified_at = pw.DateTimeField(null=True)
        reset_token_hash = pw.CharField(max_length=128, null=True, unique=True)
        used_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "password_reset"

    @migrator.create_model
    class QuickMessage(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='CASCADE')
        shortcut = pw.CharField(max_length=50)
        body = pw.TextField()
        media_path = pw.TextField(null=True)

        class Meta:
            table_name = "quick_message"
            indexes = [(('company', 'shortcut'), False)]

    @migrator.create_model
    class Setting(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], on_delete='CASCADE')
        key = pw.CharField(max_length=100)
        value = pw.TextField(null=True)

        class Meta:
            table_name = "setting"
            indexes = [(('company', 'key'), True)]

    @migrator.create_model
    class TicketEvent(pw.Model):
        id = pw.AutoField()
        ticket = pw.ForeignKeyField(column_name='ticket_id', field='id', model=migrator.orm['ticket'], on_delete='CASCADE')
        kind = pw.CharField(max_length=30)
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        data = pw.TextField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "ticket_event"
            indexes = [(('ticket', 'created_at'), False)]

    @migrator.create_model
    class TicketNote(pw.Model):
        id = pw.AutoField()
        ticket = pw.ForeignKeyField(column_name='ticket_id', field='id', model=migrator.orm['ticket'], on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        body = pw.TextField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "ticket_note"

    @migrator.create_model
    class TicketTag(pw.Model):
        id = pw.AutoField()
        ticket = pw.ForeignKeyField(column_name='ticket_id', field='id', model=migrator.orm['ticket'], on_delete='CASCADE')
        tag = pw.ForeignKeyField(column_name='tag_id', field='id', model=migrator.orm['tag'], on_delete='CASCADE')

        class Meta:
            table_name = "ticket_tag"
            indexes = [(('ticket', 'tag'), True)]

    @migrator.create_model
    class UserQueue(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], on_delete='CASCADE')
        queue = pw.ForeignKeyField(column_name='queue_id', field='id', model=migrator.orm['queue'], on_delete='CASCADE')

        class Meta:
            table_name = "user_queue"
            indexes = [(('user', 'queue'), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('user_queue')

    migrator.remove_model('ticket_tag')

    migrator.remove_model('ticket_note')

    migrator.remove_model('ticket_event')

    migrator.remove_model('setting')

    migrator.remove_model('quick_message')

    migrator.remove_model('password_reset')

    migrator.remove_model('message')

    migrator.remove_model('ticket')

    migrator.remove_model('job')

    migrator.remove_model('user')

    migrator.remove_model('idempotency_key')

    migrator.remove_model('contact_tag')

    migrator.remove_model('tag')

    migrator.remove_model('contact')

    migrator.remove_model('connection')

    migrator.remove_model('queue')

    migrator.remove_model('company')

    migrator.remove_model('plan')
