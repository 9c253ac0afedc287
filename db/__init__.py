"""Peewee models split by aggregate, the database binding and the migrations.

Importing `db` registers every model; `ALL_MODELS` lists them in dependency order.
"""

from db.ai_settings import AiSettings
from db.api_keys import ApiKey
from db.audit import AuditLog
from db.automations import AutomationRule, AutomationRun
from db.base import BaseModel, JSONField, database, utcnow
from db.campaigns import Campaign, CampaignShipping
from db.chats import Chat, ChatMember, ChatMessage
from db.companies import Company, Plan, Setting
from db.connection_events import ConnectionEvent
from db.connections import Connection
from db.contact_lists import ContactList, ContactListItem
from db.contacts import Contact, ContactField, ContactNote, ContactTag, Tag
from db.flows import Flow, FlowSession, FlowStep, FlowVersion
from db.imports import ImportRowError
from db.jobs import IdempotencyKey, Job
from db.leads import Lead
from db.macros import Macro
from db.messages import Message, MessageReaction, PendingFollowUp, PollVote, QuickMessage
from db.notifications import Notification
from db.opt_outs import OptOut
from db.queues import Queue, UserQueue
from db.schedules import Schedule, ScheduleRun
from db.sla import SlaPolicy
from db.tickets import SlaMiss, SlaWait, Ticket, TicketEvent, TicketField, TicketNote, TicketTag
from db.users import PasswordReset, User
from db.webhooks import Webhook, WebhookDelivery

ALL_MODELS: list[type[BaseModel]] = [
    Plan,
    Company,
    Setting,
    User,
    PasswordReset,
    Queue,
    UserQueue,
    Connection,
    ConnectionEvent,
    Tag,
    Contact,
    ContactTag,
    ContactNote,
    ContactField,
    ContactList,
    ContactListItem,
    SlaPolicy,
    Ticket,
    SlaMiss,
    SlaWait,
    TicketField,
    TicketTag,
    TicketEvent,
    TicketNote,
    Notification,
    Message,
    PendingFollowUp,
    MessageReaction,
    PollVote,
    QuickMessage,
    Macro,
    AutomationRule,
    AutomationRun,
    Job,
    IdempotencyKey,
    ImportRowError,
    AuditLog,
    Lead,
    ApiKey,
    Webhook,
    WebhookDelivery,
    Campaign,
    CampaignShipping,
    Schedule,
    ScheduleRun,
    Flow,
    FlowVersion,
    FlowSession,
    FlowStep,
    OptOut,
    AiSettings,
    Chat,
    ChatMember,
    ChatMessage,
]

__all__ = [m.__name__ for m in ALL_MODELS] + ["ALL_MODELS", "BaseModel", "JSONField", "database", "utcnow"]
