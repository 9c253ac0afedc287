"""Lists answer {items, page, pageSize, total}, whatever they list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import peewee

from api.schemas import PageQuery


@runtime_checkable
class PageSerializer(Protocol):
    """A serializer that also takes a whole page (`page`), to read what its rows need besides themselves once."""

    def page(self, rows: list) -> list[dict]: ...


def paginate(query: peewee.ModelSelect, page: PageQuery, serialize: Callable[[Any], dict]) -> dict[str, Any]:
    total = query.count()
    rows = list(query.paginate(page.page, page.page_size))
    items = serialize.page(rows) if isinstance(serialize, PageSerializer) else [serialize(row) for row in rows]
    return {"items": items, "page": page.page, "pageSize": page.page_size, "total": total}
