"""The ticket board, as Whaticket's Kanban: the company's tags with a `boardPosition` are its lanes, in that order, and
a live ticket stands in the lane of its first lane tag (none: the first column, `tag: null`).

`GET /api/tickets/board` answers every column at once, each with its count and a page of its tickets, under the
ticket list's filters; `PUT /api/tickets/:id/lane` moves a card: the ticket's lane tags give way to the one named
(its other tags stay), announced as any change of its tags is. Whoever sees the ticket moves it.
"""

from __future__ import annotations

import peewee
from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import NotFound
from api.resources.tickets import (
    READ_SCOPE,
    SORTS,
    WRITE_SCOPE,
    TicketQuery,
    acting_user_id,
    announced,
    filtered_tickets,
)
from api.schemas import OutSchema, Schema
from api.scoping import owned, visible_ticket
from api.ticket_json import TagBrief, TicketOut, tickets_out
from db.contacts import Tag
from db.tickets import Ticket, TicketTag, set_ticket_tags, ticket_tag_ids

blueprint = Blueprint("ticket_board", __name__, url_prefix="/api/tickets")


class BoardQuery(TicketQuery):
    """The list's filters; `page` and `pageSize` page each column. Without `status`, the live tickets."""


class BoardColumn(OutSchema):
    tag: TagBrief | None = Field(description="the lane's tag; null: the tickets in no lane")
    total: int
    tickets: list[TicketOut] = Field(description="newest activity first, or by `sort`")


class BoardOut(OutSchema):
    columns: list[BoardColumn]
    page: int
    page_size: int


class LaneIn(Schema):
    tag_id: int | None = Field(description="a lane's tag (one with a boardPosition); null: out of every lane")


def board_lanes() -> list[Tag]:
    return list(owned(Tag).where(Tag.board_position.is_null(False)).order_by(Tag.board_position, Tag.name, Tag.id))


def carrying(tag_ids: list[int]) -> peewee.ModelSelect:
    return TicketTag.select(TicketTag.ticket).where(TicketTag.tag.in_(tag_ids))


@blueprint.get("/board")
@endpoint(summary="The ticket board: a column per lane tag, and one for the tickets in no lane, each with its "
                  "count and a page of its tickets", tags=["tickets"], query=BoardQuery, response=BoardOut,
          scope=READ_SCOPE)
def show_board(query: BoardQuery):
    tickets = filtered_tickets(query)
    if query.status is None:
        tickets = tickets.where(Ticket.status != "closed")
    lanes = board_lanes()
    lane_ids = [lane.id for lane in lanes]
    columns = [(None, tickets.where(Ticket.id.not_in(carrying(lane_ids))))]
    for index, lane in enumerate(lanes):  # a ticket in two lanes stands in the first
        columns.append((lane, tickets.where(Ticket.id.in_(carrying([lane.id])),
                                            Ticket.id.not_in(carrying(lane_ids[:index])))))
    shown = []
    for tag, column in columns:
        page = list(column.order_by(*SORTS[query.sort]).paginate(query.page, query.page_size))
        shapes = tickets_out(page)
        shown.append({"tag": TagBrief.model_validate(tag).to_json() if tag else None, "total": column.count(),
                      "tickets": [shapes[ticket.id].to_json() for ticket in page]})
    return {"columns": shown, "page": query.page, "pageSize": query.page_size}


@blueprint.put("/<int:ticket_id>/lane")
@endpoint(summary="Move the ticket to a lane of the board (its other lane tags come off; its other tags stay)",
          tags=["tickets"], body=LaneIn, response=TicketOut, errors=[404], scope=WRITE_SCOPE)
def move_to_lane(ticket_id: int, body: LaneIn):
    ticket = visible_ticket(ticket_id)
    lanes = {lane.id for lane in board_lanes()}
    if body.tag_id is not None and body.tag_id not in lanes:
        raise NotFound("lane")
    others = ticket_tag_ids(ticket.id) - lanes
    with announced(ticket) as state:
        set_ticket_tags(ticket.id, others | ({body.tag_id} if body.tag_id is not None else set()), acting_user_id())
    return state
