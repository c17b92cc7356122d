"""Hand-written SQL for the few statements every incident create runs.

Building a query costs the ORM a millisecond or more here, often more than the database
takes to answer it; on the API's create path that was most of the time spent.

- Reads: `fetch_one` runs a plain SQL string and turns its row into model instances exactly as the
  ORM would (each column through the same converters, so times, durations, decimals and JSON come
  back as their Python types on SQLite and PostgreSQL alike).
- Writes: `write_together` saves a few rows that point at each other (a customer, the incident, its
  first timeline entry) with the values `save()` would write, and on PostgreSQL in one statement.
- On PostgreSQL both run as prepared statements: each is planned once per connection instead of on
  every request (planning took longer than running them). A transaction-pooling proxy, which hands
  each transaction a different server connection, cannot keep them: set DB_PREPARED_STATEMENTS=0.

Everywhere else, use the ORM.
"""

import functools
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections


def _db():
    """This thread's database connection itself. `django.db.connection` is a proxy that looks it up
    again on every attribute; the per-row paths below ask it dozens of times."""
    return connections[DEFAULT_DB_ALIAS]


def columns(model, alias):
    """The select list of every concrete column of `model`, in field order, from table alias `alias`."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in model._meta.concrete_fields)


def table(model):
    return connection.ops.quote_name(model._meta.db_table)


def fetch_one(sql, params, models, extra=0):
    """Run `sql` and return its first row as instances of `models` (their columns one after the
    other, as `columns` lists them) followed by `extra` plain values; None when there is no row.
    A model whose columns are all NULL (an outer join that found nothing) comes back as None."""
    db = _db()
    row = _fetch(db, sql, params)
    if row is None:
        return None
    found, start = [], 0
    for model in models:
        width = len(model._meta.concrete_fields)
        values = row[start:start + width]
        start += width
        found.append(None if all(value is None for value in values) else _instance(db, model, values))
    return (*found, *row[start:start + extra])


def _instance(db, model, values):
    names, conversions = _reading(model)
    return model.from_db(db.alias, names, _converted(db, conversions, values))


def _converted(db, conversions, values):
    values = list(values)
    for position, column, converters in conversions:
        for convert in converters:
            values[position] = convert(values[position], column, db)
    return values


@functools.cache
def _reading(model):
    fields = model._meta.concrete_fields
    return [field.attname for field in fields], _conversions(fields)


def _conversions(fields):
    """(position, column, converters) for each of `fields` that the ORM converts on its way from the
    database (most need none). Kept for the process: converters depend on the backend and the
    settings, which do not change while it runs."""
    conversions = []
    for position, field in enumerate(fields):
        column = field.cached_col
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            conversions.append((position, column, converters))
    return conversions


# --- Writes ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Write:
    """One row for `write_together`; made by `insert` or `update`."""

    instance: object
    fields: tuple = ()  # update: the fields written; insert: the fields a clash updates instead
    conflict: str = ""  # insert: the unique index a clash may meet (PostgreSQL's ON CONFLICT target)


def insert(instance, *, on_conflict="", update=()):
    """The INSERT `save()` would run for the new `instance`. With `on_conflict` (a unique index, as
    `unique_index` names it), a row that clashes gets the `update` fields instead, and `instance`
    becomes the row it met."""
    if not instance._state.adding:
        raise ValueError(f"{instance!r} is saved already.")
    return Write(instance, tuple(update), on_conflict)


@functools.cache
def unique_index(model, name):
    """The columns and condition of `model`'s unique constraint `name`, as ON CONFLICT names its index.
    Built by the constraint itself, so it matches the index's WHERE word for word (SQLite needs that)."""
    constraint = next(constraint for constraint in model._meta.constraints if constraint.name == name)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(field).column) for field in constraint.fields)
    condition = constraint._get_condition_sql(model, connection.schema_editor())
    return f"({columns})" + (f" WHERE {condition}" if condition else "")


def update(instance, fields):
    """The UPDATE `save(update_fields=fields)` would run for the saved `instance`."""
    if instance._state.adding:
        raise ValueError(f"{instance!r} is not saved yet.")
    return Write(instance, tuple(fields))


def write_together(*writes):
    """Carry out `writes` in order. A new row may point, through a foreign key, at a row inserted
    before it. PostgreSQL runs them all as one statement (each write a part of one WITH; what they
    return comes back in one row); other databases run one statement per write. Either way the caller
    holds the transaction: a row to update that is gone raises DatabaseError after the other writes.
    Instances end as `save()` leaves them: primary keys, generated columns and foreign keys set, no
    longer adding. No save signals are sent."""
    db = _db()
    shapes = tuple(_shape(write, writes[:position]) for position, write in enumerate(writes))
    if db.vendor == "postgresql":
        params = [param for write, shape in zip(writes, shapes) for param in _params(db, write, shape)]
        row = _run(db, _together_sql(shapes), params)
        for write, shape in zip(writes, shapes):
            width = len(_returning(shape)[0])
            _apply(db, write, shape, writes, row[:width])
            row = row[width:]
        return
    for write, shape in zip(writes, shapes):
        linked = {name: writes[position].instance.pk for name, position in shape.links}
        _apply(db, write, shape, writes, _run(db, _statement_sql(shape), _params(db, write, shape, linked)))


@dataclass(frozen=True)
class _Shape:
    """What a write's SQL depends on (its values aside), so the SQL is built once per shape."""

    model: type
    inserts: bool
    fields: tuple
    conflict: str
    links: tuple  # (field name, position of the earlier write it points at)


def _shape(write, earlier):
    instance = write.instance
    inserts, links = instance._state.adding, []
    for field in _relations(type(instance)):
        if not field.is_cached(instance):
            continue
        target = field.get_cached_value(instance)
        position = next((number for number, other in enumerate(earlier) if other.instance is target), None)
        if position is not None and earlier[position].instance._state.adding:
            if not inserts:
                raise ValueError("Only new rows can point at rows inserted with them.")
            links.append((field.name, position))
        elif target is not None and target.pk is None:
            raise ValueError(f"{field.name} points at an unsaved row that is not written with it.")
        elif target is not None and getattr(instance, field.attname) is None:
            setattr(instance, field.name, target)  # takes its id, as `save()` does
    return _Shape(type(instance), inserts, write.fields, write.conflict, tuple(links))


@functools.cache
def _relations(model):
    return [field for field in model._meta.concrete_fields if field.many_to_one or field.one_to_one]


@functools.cache
def _columns(shape):
    meta = shape.model._meta
    if shape.inserts:
        return [field for field in meta.local_concrete_fields if not field.generated and field is not meta.auto_field]
    return [meta.get_field(name) for name in shape.fields]


def _returned(shape):
    meta = shape.model._meta
    if shape.inserts and shape.conflict:
        return list(meta.concrete_fields)  # the row it met, which may not be this one
    return list(meta.db_returning_fields) if shape.inserts else [meta.pk]


@functools.cache
def _returning(shape):
    fields = _returned(shape)
    return fields, _conversions(fields)


def _params(db, write, shape, linked=None):
    """The values the ORM would write. A link is a value only when the rows run one by one (`linked`:
    the ids of the rows before); in one statement it reads the id from the part that inserted it."""
    instance, links, params = write.instance, dict(shape.links), []
    for field in _columns(shape):
        if field.name in links:
            if linked is not None:
                params.append(linked[field.name])
            continue
        params.append(field.get_db_prep_save(field.pre_save(instance, shape.inserts), db))
    if not shape.inserts:
        params.append(instance._meta.pk.get_db_prep_value(instance.pk, db))
    return params


def _run(db, sql, params):
    row = _fetch(db, sql, params)
    if row is None:
        raise DatabaseError("A row to update was not there.")
    return row


@functools.cache
def _statement_sql(shape, names=()):
    """One write's SQL. `names` are the WITH names of the writes before it, whose ids a link reads;
    without them a link is a parameter like any other value."""
    meta, quote, links = shape.model._meta, connection.ops.quote_name, dict(shape.links)
    columns = _columns(shape)
    values = [
        f"(SELECT {quote(meta.pk.column)} FROM {names[links[field.name]]})" if names and field.name in links else "%s"
        for field in columns
    ]
    returning = ", ".join(quote(field.column) for field in _returned(shape))
    if not shape.inserts:
        assignments = ", ".join(f"{quote(field.column)} = {value}" for field, value in zip(columns, values))
        return f"UPDATE {table(shape.model)} SET {assignments} WHERE {quote(meta.pk.column)} = %s RETURNING {returning}"
    sql = f"INSERT INTO {table(shape.model)} ({', '.join(quote(field.column) for field in columns)}) VALUES ({', '.join(values)})"
    if shape.conflict:
        updated = [quote(meta.get_field(name).column) for name in shape.fields]
        sql += f" ON CONFLICT {shape.conflict} DO UPDATE SET {', '.join(f'{column} = EXCLUDED.{column}' for column in updated)}"
    return f"{sql} RETURNING {returning}"


@functools.cache
def _together_sql(shapes):
    names = tuple(f"w{position}" for position in range(len(shapes)))
    parts = ", ".join(f"{name} AS ({_statement_sql(shape, names[:position])})" for position, (name, shape) in enumerate(zip(names, shapes)))
    returned = ", ".join(
        f"{name}.{connection.ops.quote_name(field.column)}" for name, shape in zip(names, shapes) for field in _returned(shape)
    )
    return f"WITH {parts} SELECT {returned} FROM {', '.join(names)}"


def _apply(db, write, shape, writes, values):
    instance = write.instance
    for name, position in shape.links:
        setattr(instance, name, writes[position].instance)  # the id, and the row kept as `save()` keeps it
    fields, conversions = _returning(shape)
    for field, value in zip(fields, _converted(db, conversions, values)):
        setattr(instance, field.attname, value)
    instance._state.adding, instance._state.db = False, db.alias


# --- Prepared statements --------------------------------------------------------------------------


def _fetch(db, sql, params):
    """The first row `sql` returns; on PostgreSQL through a statement prepared once per connection."""
    with db.cursor() as cursor:
        if db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
            cursor.execute(sql, params)
            return cursor.fetchone()
        name, prepare, keys = _prepared(sql)
        prepared = _prepared_on(db)
        if name not in prepared:
            # On its own, so it is known to exist only once it did: a prepared statement outlives
            # the transaction it was made in, a rolled-back one included.
            cursor.execute(prepare)
            prepared.add(name)
        values = [params[key] for key in keys] if isinstance(params, dict) else list(params)
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}", values)
        return cursor.fetchone()


def _prepared_on(db):
    """The statements prepared on the database connection `db` holds now. Kept beside that
    connection, so a new one (after a restart of the database or a failed health check) starts with none."""
    raw = db.connection
    kept = getattr(db, "_recovery_prepared", None)
    if kept is None or kept[0] is not raw:
        kept = db._recovery_prepared = (raw, set())
    return kept[1]


_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?s")


@functools.cache
def _prepared(sql):
    """(name, PREPARE statement, parameter keys) for `sql` written with %s or %(name)s placeholders:
    each %s is the next value of a list, each %(name)s its key's value of a dict."""
    if "%%" in sql:
        raise ValueError("Prepared SQL cannot hold a literal %.")
    keys = []

    def numbered(match):
        key = match.group(1) if match.group(1) is not None else len(keys)
        if key not in keys:
            keys.append(key)
        return f"${keys.index(key) + 1}"

    text = _PLACEHOLDER.sub(numbered, sql)
    name = "recovery_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
    return name, f"PREPARE {name} AS {text}", keys
