"""Hand-written reads for the few queries every incident create runs.

Building a query costs the ORM a millisecond or more here, often more than the database
takes to answer it; on the API's create path that was most of the time spent. These helpers run a
plain SQL string and turn its row into model instances exactly as the ORM would (each column through
the same converters, so times, durations, decimals and JSON come back as their Python types on
SQLite and PostgreSQL alike). Everywhere else, use the ORM.
"""

import functools

from django.db import connection


def columns(model, alias):
    """The select list of every concrete column of `model`, in field order, from table alias `alias`."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in model._meta.concrete_fields)


def table(model):
    return connection.ops.quote_name(model._meta.db_table)


def fetch_one(sql, params, models, extra=0):
    """Run `sql` and return its first row as instances of `models` (their columns one after the
    other, as `columns` lists them) followed by `extra` plain values; None when there is no row.
    A model whose columns are all NULL (an outer join that found nothing) comes back as None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    found, start = [], 0
    for model in models:
        width = len(model._meta.concrete_fields)
        values = row[start:start + width]
        start += width
        found.append(None if all(value is None for value in values) else _instance(model, values))
    return (*found, *row[start:start + extra])


def _instance(model, values):
    names, converters = _conversion(model)
    converted = []
    for value, (column, convert_all) in zip(values, converters):
        for convert in convert_all:
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


@functools.cache
def _conversion(model):
    """Per column of `model`: the converters the ORM runs on what the database returns. Kept for the
    process: they depend on the backend and the settings, which do not change while it runs."""
    converters = []
    for field in model._meta.concrete_fields:
        column = field.cached_col
        converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return [field.attname for field in model._meta.concrete_fields], converters
