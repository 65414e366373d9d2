"""Session-level PostgreSQL advisory locks for "one run per object at a time" jobs (the metric
engine, the recall engine). A second run does not wait: it learns the lock is taken and leaves
the work to the first. SQLite serialises writers itself, so there the lock is always granted."""

from __future__ import annotations

from django.db import connection

_INT4 = 2**31 - 1


def try_advisory_lock(key: int, object_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [key, object_id % _INT4])
        return bool(cursor.fetchone()[0])


def advisory_unlock(key: int, object_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [key, object_id % _INT4])
