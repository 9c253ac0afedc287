"""The rows a CSV import could not take, kept with their job for the errors download."""

import peewee

from db.base import BaseModel, JSONField
from db.jobs import Job


class ImportRowError(BaseModel):
    """One rejected row: its line in the file, why, and its cells as read (to fix and import again)."""

    job = peewee.ForeignKeyField(Job, backref="row_errors", on_delete="CASCADE", index=False)
    line = peewee.IntegerField()
    message = peewee.TextField()
    cells = JSONField(default=list)

    class Meta:
        indexes = ((("job", "line"), False),)
