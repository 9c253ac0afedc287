"""Lead import: the rows of a CSV (workers/csv_import.py) upserted into the company's leads in batches.

Leads are unique per company by phone, so a row needs one: importing the same file again updates the leads
and creates nothing. Only the file's columns are written, and an empty cell keeps what a lead has. Words
are read in English or Portuguese ("ganho" is won, "quente" hot), numbers and dates as Brazilian
spreadsheets write them too ("1.234,56", "31/12/2030 14:00", taken in the company's timezone). A new lead
without a name is named by its phone; it belongs to the user who imported it and is linked to the contact
with its phone, as a lead created through the API.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
from email_validator import EmailNotValidError

from db.base import utcnow
from db.bulk import insert_rows
from db.companies import Company
from db.contacts import Contact
from db.leads import Lead
from db.users import User
from wharf.csv_reading import CsvFile, column_mapping, normal_header
from wharf.custom_fields import InvalidValue, parse_date, parse_number
from workers.csv_import import (
    ImportRejected,
    RowInvalid,
    cell_reader,
    import_upload,
    merged_by_phone,
    normal_email,
    read_phone,
)

# {mapping field: (column, names of its header in English and Portuguese)}; name, phone and email are known to
# wharf.csv_reading already.
LEAD_COLUMNS = {
    "name": ("name", ()),
    "phone": ("phone", ()),
    "email": ("email", ()),
    "companyName": ("company_name", ("empresa", "company", "companyname", "organizacao", "organization",
                                     "razaosocial")),
    "status": ("status", ("status", "situacao", "etapa", "estagio", "stage", "fase")),
    "source": ("source", ("origem", "source", "fonte", "canal", "leadsource")),
    "category": ("category", ("categoria", "category", "temperatura", "classificacao", "temperature")),
    "value": ("value", ("valor", "value", "amount", "valorestimado", "dealvalue", "orcamento")),
    "notes": ("notes", ("notas", "notes", "observacoes", "observacao", "obs", "comentarios", "comments",
                        "anotacoes")),
    "nextFollowUpAt": ("next_follow_up_at", ("proximofollowup", "followup", "nextfollowup", "nextfollowupat",
                                             "retorno", "proximocontato", "dataderetorno")),
}
WORDS = {  # a column's stored values and the words a spreadsheet may hold for each
    "status": {"new": ("new", "novo", "nova", "aberto"), "contacted": ("contacted", "contatado", "emcontato"),
               "qualified": ("qualified", "qualificado", "qualificada"), "proposal": ("proposal", "proposta"),
               "won": ("won", "ganho", "ganha", "fechado", "vendido"), "lost": ("lost", "perdido", "perdida")},
    "source": {"website": ("website", "site", "web"), "referral": ("referral", "indicacao"),
               "campaign": ("campaign", "campanha"), "whatsapp": ("whatsapp", "zap"), "manual": ("manual",),
               "other": ("other", "outro", "outra", "outros")},
    "category": {"hot": ("hot", "quente"), "warm": ("warm", "morno", "morna"), "cold": ("cold", "frio", "fria")},
}
TEXT_LIMITS = {"name": 200, "company_name": 200, "notes": 20_000}
MAX_VALUE = Decimal("1e12")
BASE_COLUMNS = ("company_id", "phone", "owner_id", "created_by_id", "contact_id", "won_at", "created_at", "updated_at")
OPTIONAL_COLUMNS = ("name", "email", "company_name", "status", "source", "category", "value", "notes",
                    "next_follow_up_at")


@dataclass(frozen=True)
class LeadPlan:
    """What the file's columns hold ({lead column: index}), and how to read phones and times."""

    columns: dict[str, int]
    country: str
    timezone: str


def plan_lead_import(company_id: int, header: list[str], mapping: dict[str, str]) -> LeadPlan:
    """The columns to read; ValueError for a mapping that names no column of the file or no field of a lead,
    or a file without a phone column."""
    if unknown := sorted(set(mapping) - set(LEAD_COLUMNS)):
        raise ValueError(f"not fields of a lead: {', '.join(unknown)} ({', '.join(LEAD_COLUMNS)})")
    found = column_mapping(header, mapping, {field: aliases for field, (_, aliases) in LEAD_COLUMNS.items()})
    columns = {LEAD_COLUMNS[field][0]: index for field, index in found.items() if field in LEAD_COLUMNS}
    if "phone" not in columns:
        raise ValueError(f"no phone column (leads are matched by phone): name it in the mapping (the file's "
                         f"columns: {', '.join(header)})")
    country, timezone = (Company.select(Company.default_country, Company.timezone)
                         .where(Company.id == company_id).tuples().get())
    return LeadPlan(columns, country, timezone)


def parse_word(column: str, text: str) -> str:
    word = normal_header(text)
    for value, words in WORDS[column].items():
        if word in words:
            return value
    raise InvalidValue(f"{text!r} is not one of {', '.join(WORDS[column])}")


def parse_value(text: str) -> Decimal:
    """An amount in cents, as the column keeps it."""
    value = Decimal(str(parse_number(text)))
    if not 0 <= value < MAX_VALUE:
        raise InvalidValue(f"{text!r} is not an amount from 0 to {MAX_VALUE:,.0f}")
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_moment(text: str, timezone: str) -> dt.datetime:
    """A date (the start of that day) or a date and time, in the company's timezone unless an offset is given;
    naive UTC as stored."""
    moment = None
    for layout in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y %H:%M"):
        try:
            moment = dt.datetime.strptime(text, layout)
            break
        except ValueError:
            continue
    if moment is None:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(parse_date(text))
            except InvalidValue:
                raise InvalidValue(f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY, with an optional time)"
                                   ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass
class LeadRow:
    line: int
    phone: str
    values: dict[str, Any]  # {column: value} of the non-empty cells

    def merge(self, later: LeadRow) -> None:
        """The same phone again further down the file: its non-empty cells win."""
        self.values |= later.values


def defaults() -> dict[str, Any]:
    """A new lead's value of each optional column the row leaves empty (the model's defaults)."""
    return {column: Lead._meta.columns[column].default for column in OPTIONAL_COLUMNS}


def upsert_tail(columns: tuple[str, ...]) -> str:
    """ON CONFLICT: the row's given columns over the stored ones; a status change sets or clears won_at."""
    updates = ['"updated_at" = excluded."updated_at"',
               '"contact_id" = COALESCE("lead"."contact_id", excluded."contact_id")']
    updates += [f'"{column}" = excluded."{column}"' for column in columns]
    if "status" in columns:
        updates.append('"won_at" = CASE WHEN excluded."status" = "lead"."status" THEN "lead"."won_at" '
                       'ELSE excluded."won_at" END')
    return f'ON CONFLICT ("company_id", "phone") DO UPDATE SET {", ".join(updates)}'


@dataclass
class LeadWriter:
    """The RowWriter of a lead import (workers.csv_import): rows read per the plan, upserted by phone."""

    company_id: int
    owner_id: int | None
    plan: LeadPlan

    def read(self, line: int, cells: list[str]) -> LeadRow:
        """One record as a lead row; RowInvalid naming every field that is wrong."""
        cell = cell_reader(self.plan.columns, cells)
        problems: dict[str, str] = {}
        phone = read_phone(cell("phone"), self.plan.country, problems, "missing (leads are matched by phone)")
        values: dict[str, Any] = {}
        for column in self.plan.columns.keys() - {"phone"}:
            text = cell(column)
            if not text:
                continue
            try:
                if column in WORDS:
                    values[column] = parse_word(column, text)
                elif column == "value":
                    values[column] = parse_value(text)
                elif column == "next_follow_up_at":
                    values[column] = parse_moment(text, self.plan.timezone)
                elif column == "email":
                    values[column] = normal_email(text)
                elif len(text) > TEXT_LIMITS[column]:
                    problems[column] = f"longer than {TEXT_LIMITS[column]} characters"
                else:
                    values[column] = text
            except (InvalidValue, EmailNotValidError) as error:
                problems[column] = str(error)
        if problems:
            raise RowInvalid.of(problems)
        return LeadRow(line, phone, values)

    def write(self, rows: list[LeadRow]) -> tuple[int, int]:
        """One upsert per set of given columns (most files have one or two), each in phone order."""
        merged = merged_by_phone(rows)
        phones = list(merged)
        existing = {phone for (phone,) in Lead.select(Lead.phone).where(Lead.company == self.company_id,
                                                                        Lead.phone.in_(phones)).tuples()}
        contacts = dict(Contact.select(Contact.phone, Contact.id)
                        .where(Contact.company == self.company_id, Contact.phone.in_(phones)).tuples())
        shapes: dict[tuple[str, ...], list[LeadRow]] = defaultdict(list)
        for row in sorted(merged.values(), key=lambda row: row.phone):
            shapes[tuple(sorted(row.values))].append(row)
        now = utcnow()
        blank = defaults()
        for given, shaped in sorted(shapes.items()):
            values = []
            for row in shaped:
                lead = {**blank, "name": row.phone, **row.values}
                won_at = now if lead["status"] == "won" else None
                values.append((self.company_id, row.phone, self.owner_id, self.owner_id, contacts.get(row.phone),
                               won_at, now, now, *(lead[column] for column in OPTIONAL_COLUMNS)))
            insert_rows("lead", (*BASE_COLUMNS, *OPTIONAL_COLUMNS), values, upsert_tail(given))
        created = len(merged.keys() - existing)
        return created, len(rows) - created


@dramatiq.actor(queue_name="imports", max_retries=5, time_limit=60 * 60 * 1000, throws=(ImportRejected,))
def import_leads(company_id: int, upload: str, mapping: dict[str, str], user_id: int | None = None
                 ) -> dict[str, Any]:
    """Import the stored CSV `upload` into the company's leads, owned by `user_id` when new; the result counts
    created, updated and skipped rows and shows the first errors (all of them: `errorsUrl`)."""
    owner_id = (User.select(User.id).where(User.id == user_id, User.company == company_id).scalar()
                if user_id is not None else None)  # None once the user is gone

    def writer_for(csv_file: CsvFile) -> LeadWriter:
        return LeadWriter(company_id, owner_id, plan_lead_import(company_id, csv_file.header, mapping))

    return import_upload(upload, writer_for, {})
