"""Set-based writes that the ORM does slowly: multi-row INSERT … ON CONFLICT, and UPDATE … FROM a
list of values, on PostgreSQL and SQLite alike (both speak this dialect). Rows go in chunks that
stay under SQLite's limit on bound parameters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

_MAX_PARAMS = 30_000


def _chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterable[Sequence[Sequence[Any]]]:
    size = max(1, _MAX_PARAMS // max(width, 1))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _values(chunk: Sequence[Sequence[Any]], width: int) -> tuple[str, list[Any]]:
    row = "(" + ", ".join(["%s"] * width) + ")"
    params: list[Any] = []
    for values in chunk:
        params.extend(values)
    return ", ".join([row] * len(chunk)), params


def insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """A plain multi-row INSERT, for rows known to be new (generated data)."""
    width = len(columns)
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, width):
            values, params = _values(chunk, width)
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}", params)
    return len(rows)


def insert_returning(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: Sequence[str], returning: str
) -> list[Any]:
    """Insert rows, skip those that clash on ``conflict``, and return ``returning`` of the rows
    that went in: how ingestion tells a new event from a duplicate in one round trip."""
    inserted: list[Any] = []
    width = len(columns)
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, width):
            values, params = _values(chunk, width)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} "
                f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {returning}",
                params,
            )
            inserted.extend(row[0] for row in cursor.fetchall())
    return inserted


def upsert(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
    extra_set: str = "",
) -> int:
    """INSERT … ON CONFLICT DO UPDATE: the derived tables' write, keyed by (object, day)."""
    update = [column for column in (columns if update is None else update) if column not in conflict]
    assignments = ", ".join(f"{column} = excluded.{column}" for column in update)
    if extra_set:
        assignments = f"{assignments}, {extra_set}" if assignments else extra_set
    width = len(columns)
    written = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, width):
            values, params = _values(chunk, width)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} "
                f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments}",
                params,
            )
            written += len(chunk)
    return written


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Give each row its own values: ``rows`` are (pk, *values of ``fields``). One
    ``WITH new AS (VALUES …) UPDATE … FROM new`` per chunk, where ``bulk_update`` builds a CASE with
    a branch per row for every field (20 s of the demo's 100 s went to backdating 28,000
    memberships that way; this takes well under one)."""
    meta = model._meta
    quote = connection.ops.quote_name
    targets = [meta.pk, *(meta.get_field(name) for name in fields)]
    names = [quote("pk"), *(quote(field.column) for field in targets[1:])]
    # PostgreSQL types a VALUES list from its literals (all NULL is text): cast to the columns' types.
    # SQLite stores what it is given, as Django's own writes do.
    if connection.vendor == "postgresql":
        typed = [f"CAST(new.{name} AS {field.db_type(connection)})" for name, field in zip(names, targets, strict=True)]
    else:
        typed = [f"new.{name}" for name in names]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{name} = {value}" for name, value in zip(names[1:], typed[1:], strict=True))
    width = len(names)
    prepared = [
        [field.get_db_prep_save(value, connection) for field, value in zip(targets, row, strict=True)] for row in rows
    ]
    with connection.cursor() as cursor:
        for chunk in _chunks(prepared, width):
            values, params = _values(chunk, width)
            cursor.execute(
                f"WITH new ({', '.join(names)}) AS (VALUES {values}) "
                f"UPDATE {table} SET {assignments} FROM new WHERE {table}.{quote(meta.pk.column)} = {typed[0]}",
                params,
            )
    return len(rows)


def fetch(sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return names, cursor.fetchall()


def derived_data_transaction() -> None:
    """Inside a transaction that writes only derived, recomputable rows (rollups, metrics, or
    generated data), on PostgreSQL: don't wait for the WAL flush at commit, and give sorts and
    hashes room. A crash can lose such a commit, but never half of it: the dirty-day marks it
    clears go with it, so the next run recomputes the same days."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute("SET LOCAL work_mem TO '256MB'")
