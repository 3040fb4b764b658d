"""Bulk inserts and updates of plain tuples: ``COPY`` on PostgreSQL, the ORM elsewhere.

Used where thousands of rows are written in one transaction (the ledger flush of
:mod:`portfolios.services.execution`, the autopilot's chunk path).

Django 5.2's ``bulk_create`` on PostgreSQL sends one ``UNNEST`` array per column, and
psycopg formats those arrays in Python (a regular expression per element); with model
instances to build and ``get_db_prep_save`` per value, that was ~40 % of an autopilot
chunk's CPU. Here rows are plain tuples in column order and go through
``COPY ... FROM STDIN`` (psycopg's C row formatter, the same dumpers the ORM path
uses for ``Decimal``, dates and text); primary keys that other rows point at are
reserved first from the table's identity sequence, so foreign keys are set without
``RETURNING``. Updates copy ``(pk, values...)`` into a temporary table and run one
``UPDATE ... FROM`` it.

* :func:`rows_insert` — insert tuples; returns the new primary keys when asked;
* :func:`rows_update` — set columns of existing rows by primary key.

Other databases (SQLite in the fast tests) get model instances through
``bulk_create``/``bulk_update``, so both paths write the same rows (an integration
test compares them on PostgreSQL). Values are what the model fields hold: ``Decimal``
for decimals, ``date``/aware ``datetime``, Python objects for JSON fields (serialized
with the field's encoder exactly as Django does; ``jsonb`` stores the parsed value).
Every statement here belongs to the caller's transaction.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Sequence
from functools import partial

from django.db import connection
from django.db.models import NOT_PROVIDED, JSONField, Model

BATCH = 1000
"""Rows per ``bulk_create``/``bulk_update`` batch on databases without COPY."""

_temp_names = itertools.count()
_EMPTY_JSON = {list: "[]", dict: "{}"}
"""What ``json.dumps`` writes for an empty list or dict (most trades' tags), without its set-up."""


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _fields(model: type[Model], columns: Sequence[str]):
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    try:
        return [by_attname[c] for c in columns]
    except KeyError as exc:
        raise ValueError(f"{model.__name__} has no column {exc.args[0]!r}") from None


def _db_type(field) -> str:
    return field.target_field.rel_db_type(connection) if field.is_relation else field.db_type(connection)


def _json_dumpers(fields) -> list[tuple[int, object]]:
    """(index, dumps) of the JSON columns: Django's ``get_json_dumps(field.encoder)``."""
    return [
        (i, json.dumps if f.encoder is None else partial(json.dumps, cls=f.encoder))
        for i, f in enumerate(fields)
        if isinstance(f, JSONField)
    ]


def _copy(cursor, table: str, names: Sequence[str], rows: Iterable[Sequence], json_columns) -> None:
    column_list = ", ".join(f'"{n}"' for n in names)
    with cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
        if json_columns:
            for row in rows:
                row = list(row)
                for i, dumps in json_columns:
                    value = row[i]
                    if value is not None:
                        empty = _EMPTY_JSON.get(type(value)) if not value else None
                        row[i] = empty if empty is not None else dumps(value)
                copy.write_row(row)
        else:
            for row in rows:
                copy.write_row(row)


def ids_reserve(model: type[Model], n: int) -> list[int]:
    """``n`` new primary keys of ``model`` from its identity sequence, ascending (PostgreSQL)."""
    if n == 0:
        return []
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [f'"{meta.db_table}"', meta.pk.column, n],
        )
        return sorted(r[0] for r in cursor.fetchall())


@functools.cache
def _columns_complete(model: type[Model], columns: tuple[str, ...]) -> None:
    """Refuse an insert that leaves out a column the database needs a value for.

    On SQLite the rows go through ``bulk_create``, which fills ``auto_now_add`` and Python
    defaults itself; PostgreSQL's COPY fills nothing. A column missing here therefore passed
    the fast suite and failed in production (wash sales' ``created_at``), so both backends
    check it alike."""
    missing = [
        f.attname for f in model._meta.concrete_fields
        if not f.primary_key and not f.null and f.attname not in columns and f.db_default is NOT_PROVIDED
    ]
    if missing:
        raise ValueError(f"rows_insert into {model.__name__} leaves out {', '.join(missing)}: give every non-null column")


def rows_insert(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence], *, returning_ids: bool = False
) -> list[int] | None:
    """Insert ``rows`` (tuples of ``columns``' values, attnames such as ``portfolio_id``).

    With ``returning_ids`` the new primary keys come back in row order. Columns left
    out get no value (give every non-null column; Django defines no database defaults
    here, except the primary key's identity).
    """
    if not rows:
        return [] if returning_ids else None
    fields = _fields(model, columns)
    _columns_complete(model, tuple(columns))
    if not _postgres():
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=BATCH)
        return [o.pk for o in objs] if returning_ids else None
    names = [f.column for f in fields]
    json_columns = _json_dumpers(fields)
    ids = None
    if returning_ids:
        ids = ids_reserve(model, len(rows))
        names = [model._meta.pk.column, *names]
        json_columns = [(i + 1, d) for i, d in json_columns]
        rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    with connection.cursor() as cursor:
        _copy(cursor, model._meta.db_table, names, rows, json_columns)
    return ids


def rows_update(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Set ``columns`` of existing rows: each row is ``(pk, value, ...)`` in ``columns`` order."""
    if not rows:
        return
    fields = _fields(model, columns)
    meta = model._meta
    if not _postgres():
        objs = [model(**{meta.pk.attname: row[0], **dict(zip(columns, row[1:], strict=True))}) for row in rows]
        model.objects.bulk_update(objs, [f.name for f in fields], batch_size=BATCH)
        return
    pk_name = meta.pk.column
    names = [pk_name, *(f.column for f in fields)]
    temp = f"_bulk_update_{meta.db_table}_{next(_temp_names)}"
    definition = ", ".join(
        f'"{n}" {t}' for n, t in zip(names, [_db_type(meta.pk), *(_db_type(f) for f in fields)], strict=True)
    )
    assignments = ", ".join(f'"{n}" = v."{n}"' for n in names[1:])
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TEMPORARY TABLE "{temp}" ({definition})')
        _copy(cursor, temp, names, rows, [(i + 1, d) for i, d in _json_dumpers(fields)])
        cursor.execute(
            f'UPDATE "{meta.db_table}" AS t SET {assignments} FROM "{temp}" AS v '
            f'WHERE t."{pk_name}" = v."{pk_name}"'
        )
        cursor.execute(f'DROP TABLE "{temp}"')
