"""Lists answer {items, page, pageSize, total}, whatever they list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee

from api.schemas import PageQuery


def paginate(query: peewee.ModelSelect, page: PageQuery, serialize: Callable[[Any], dict]) -> dict[str, Any]:
    total = query.count()
    rows = query.paginate(page.page, page.page_size)
    return {"items": [serialize(row) for row in rows], "page": page.page, "pageSize": page.page_size, "total": total}
