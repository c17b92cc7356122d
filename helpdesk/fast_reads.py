"""The API's two hand-written reads: the token on every request (an API client's hashed token or a member of
staff's personal one), and what a helpdesk names on every create.

Why they are not ORM querysets: building these two queries costs the ORM about 1.1 ms and 3.4 ms of CPU per
request; written out they cost 0.15 and 0.3 ms (in-process, PostgreSQL; docs/api.md, "Where the time
goes"). That is most of the Python time of a create. Everything else, every write included, is the ORM.

How: a plain `cursor.execute` every time. Nothing is prepared or kept on the connection, so a migration
that changes a column's type costs the next run a new plan, not an error. The select lists are made from
the models' concrete fields, so a column a migration adds is read with the others, and each row becomes
instances through `Model.from_db`, each value through the converters the ORM applies to a column of that
field (times, durations, decimals, booleans and JSON come back as their Python types on SQLite and
PostgreSQL alike).

Before a Django (or DRF) upgrade, check that:
- `Model.from_db(db, field_names, values)` still takes attnames in `_meta.concrete_fields` order;
- the ORM still converts a selected column (`field.get_col(table)`) with
  `connection.ops.get_db_converters(column)` followed by `column.get_db_converters(connection)`, each called
  as `convert(value, column, connection)` (see `SQLCompiler.get_converters` in django/db/models/sql/compiler.py);
- a reverse one-to-one is still cached with `related.set_cached_value` (`User.api_client.related`), as
  `select_related` caches it, so `user.api_client` asks no query;
- `rest_framework.authtoken.models.Token` (members of staff's personal tokens) and `AbstractUser` keep their
  tables, and `Token.key` stays the plain key (the token read compares it as it is; API clients' `ApiToken`s
  are compared by `helpdesk.tokens.hash_of`).
tests/helpdesk/test_fast_reads.py holds each read to the instances the ORM builds, and fails when a selected
column list and its table differ.
"""

import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections
from rest_framework.authtoken.models import Token

from incidents.models import Category, Customer, Incident, Location, Organization, User

from . import tokens
from .models import ApiClient, ApiToken


def token(key):
    """(token, user, API client or None) for the key, or None when no token has it.

    An API client's token is an `ApiToken`, found by the key's SHA-256; a member of staff's personal token is
    a `rest_framework.authtoken` Token, found by the key itself, and never one of an API client's user (a
    client signs in with its ApiTokens only). `token.client`, `token.user`, `client.user` and
    `user.api_client` are set as `select_related` sets them, so none of them asks a query."""
    found = _fetch_one(_token_sql(), {"hash": tokens.hash_of(key), "key": key}, [ApiToken, ApiClient, Token, User])
    if found is None:
        return None
    api_token, client, staff_token, user = found
    # Cached on the user as select_related would: `user.api_client` asks no query (and raises
    # DoesNotExist for a member of staff's token).
    User.api_client.related.set_cached_value(user, client)
    if api_token is not None:
        api_token.client, client.user = client, user
        return api_token, user, client
    staff_token.user = user
    return staff_token, user, None


def names_for_create(*, organization_id, code, label, ticket, external_id, email):
    """What a create names, in one query: (location, its organization, the customer the contact details
    match or None, the category's id and name or None, None, the incident already logged for the ticket
    as id and reference or None, None). None when the organization has no location with this code."""
    params = {
        "organization": organization_id, "code": code, "label": label, "ticket": ticket,
        "external_id": external_id, "email": email,
    }
    found = _fetch_one(_names_sql(), params, [Location, Organization, Customer], extra=4)
    if found is None:
        return None
    found[0].organization = found[1]
    return found


def selected_columns(model):
    """The columns the reads select for `model`; the test compares them with the table's."""
    return [field.column for field in model._meta.concrete_fields]


@functools.cache
def _token_sql():
    # One row at most: the ApiToken with the hash (unique index), else the staff token with the key (its
    # primary key), then the user either one names. The staff token is only looked for when no ApiToken
    # matched, and never for a user an API client acts through.
    return (
        f"SELECT {_columns(ApiToken, 'a')}, {_columns(ApiClient, 'c')}, {_columns(Token, 't')}, {_columns(User, 'u')} "
        f"FROM (SELECT 1 AS one) k "
        f"LEFT JOIN {_table(ApiToken)} a ON a.key_hash = %(hash)s "
        f"LEFT JOIN {_table(ApiClient)} c ON c.id = a.client_id "
        f"LEFT JOIN {_table(Token)} t ON a.id IS NULL AND t.key = %(key)s "
        f"AND NOT EXISTS (SELECT 1 FROM {_table(ApiClient)} x WHERE x.user_id = t.user_id) "
        f"JOIN {_table(User)} u ON u.id = COALESCE(c.user_id, t.user_id)"
    )


def _customer_match(organization):
    """SQL for the id of the customer that contact details name, by the rule of
    `incidents.services.known_customer`: by external id first, else by email (case aside, as
    `email__iexact` compares; the first saved). `organization` is SQL for the organization's id; the
    parameters are %(external_id)s and %(email)s. Each half reads one index: `NOT (external_id = '')` is
    the condition of the partial unique index, `UPPER(email)` the expression of `customer_email_any_case`."""
    return f"""
        COALESCE(
            (SELECT c.id FROM {_table(Customer)} c WHERE c.organization_id = {organization}
                AND c.external_id = %(external_id)s AND NOT (c.external_id = '')),
            (SELECT c.id FROM {_table(Customer)} c WHERE c.organization_id = {organization}
                AND UPPER(c.email) = UPPER(%(email)s) AND %(email)s <> '' ORDER BY c.id LIMIT 1))
    """


@functools.cache
def _names_sql():
    # The category matches its label case aside, as `services.category_named` does. The ticket is
    # looked up only when there is one (an empty external id means "no ticket"); `NOT (external_id = '')`
    # is the condition of its partial unique index, which the planner then reads.
    category = f"FROM {_table(Category)} c WHERE c.organization_id = l.organization_id AND UPPER(c.name) = UPPER(%(label)s) ORDER BY c.id LIMIT 1"
    ticket = f"FROM {_table(Incident)} i WHERE i.organization_id = l.organization_id AND i.external_id = %(ticket)s AND NOT (i.external_id = '')"
    return f"""
        SELECT {_columns(Location, "l")}, {_columns(Organization, "o")}, {_columns(Customer, "cu")},
            (SELECT c.id {category}), (SELECT c.name {category}), (SELECT i.id {ticket}), (SELECT i.reference {ticket})
        FROM {_table(Location)} l JOIN {_table(Organization)} o ON o.id = l.organization_id
        LEFT JOIN {_table(Customer)} cu ON cu.id = {_customer_match("l.organization_id")}
        WHERE l.organization_id = %(organization)s AND l.code = %(code)s
    """


# --- Rows into instances ----------------------------------------------------------------------------


def _columns(model, alias):
    """The select list of every concrete column of `model`, in field order, from table alias `alias`."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(column)}" for column in selected_columns(model))


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _fetch_one(sql, params, models, extra=0):
    """Run `sql` and return its first row as instances of `models` (their columns one after the other,
    as `_columns` lists them) followed by `extra` plain values; None when there is no row. A model whose
    columns are all NULL (an outer join that found nothing) comes back as None."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: `connection` is a proxy that looks it up each time
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    found, start = [], 0
    for model in models:
        names, conversions = _reading(model)
        values = list(row[start:start + len(names)])
        start += len(names)
        if all(value is None for value in values):
            found.append(None)
            continue
        for position, expression, converters in conversions:
            for convert in converters:
                values[position] = convert(values[position], expression, db)
        found.append(model.from_db(db.alias, names, values))
    return (*found, *row[start:start + extra])


@functools.cache
def _reading(model):
    """The attnames of `model`'s concrete fields, and (position, expression, converters) for each field the
    ORM converts on its way from the database (most need none). Kept for the process: converters depend on
    the backend and the settings, which do not change while it runs."""
    fields = model._meta.concrete_fields
    conversions = []
    for position, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)  # the column, as the compiler converts it
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if converters:
            conversions.append((position, expression, converters))
    return [field.attname for field in fields], conversions
