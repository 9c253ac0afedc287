"""CSV uploads for the imports (contacts, leads): the file stored under the var directory and checked before
its job is queued.

The file comes as the multipart field `file` or as a raw `text/csv` body; the import's options come in the
query string or as fields of the multipart form. A file that is empty, not text, or whose columns do not
fit the mapping is a 400 at once (and not kept); one over MAX_BODY_BYTES is a 413 (Flask's limit).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from api.endpoint import validation_details
from api.errors import ApiError, ValidationFailed
from wharf.csv_reading import NotCsv, inspect_csv
from wharf.settings import settings
from workers.csv_import import UPLOADS_DIR

RAW_CSV_TYPES = ("text/csv", "application/csv", "text/plain")
UPLOAD_MEDIA_TYPES = ("multipart/form-data", "text/csv")

Options = TypeVar("Options", bound=BaseModel)


def upload_options(query: Options) -> Options:
    """The query's options, with the fields of a multipart form over them."""
    if request.mimetype != "multipart/form-data" or not request.form:
        return query
    try:
        return type(query).model_validate({**request.args.to_dict(), **request.form.to_dict()})
    except ValidationError as error:
        raise ValidationFailed("the form has invalid fields", validation_details(error)) from None


def store_upload(company_id: int) -> str:
    """Write the uploaded CSV under the var directory; its key (path relative to the var directory)."""
    key = f"{UPLOADS_DIR}/{company_id}/{uuid.uuid4().hex}.csv"
    path = settings.var_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("send the CSV as the multipart field `file`", {"file": "missing"})
        upload.save(path)
    elif request.mimetype in RAW_CSV_TYPES:
        path.write_bytes(request.get_data())
    else:
        raise ApiError(415, "send the CSV as multipart/form-data (field `file`) or as a text/csv body",
                       "unsupported_media_type")
    return key


def accept_upload(company_id: int, plan: Callable[[list[str]], Any]) -> str:
    """Store the upload and check it can be imported: `plan(header)` raises ValueError for columns that do not
    fit. 400 (and the upload removed) for a file that is no CSV or does not fit; the stored upload's key."""
    key = store_upload(company_id)
    path = settings.var_dir / key
    try:
        plan(inspect_csv(path).header)
    except NotCsv as error:
        path.unlink(missing_ok=True)
        raise ValidationFailed("the file cannot be imported", {"file": str(error)}) from None
    except ValueError as error:
        path.unlink(missing_ok=True)
        raise ValidationFailed("the file's columns do not fit the mapping", {"mapping": str(error)}) from None
    return key
