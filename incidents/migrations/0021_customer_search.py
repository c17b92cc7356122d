"""Customer search as you type, served by trigram indexes (PostgreSQL's pg_trgm) on what
`selectors.search_customers` compares: UPPER(name) and UPPER(email) (the expressions `icontains` and
`iexact` put in the query) and the phone as stored (E.164, digits behind a plus); and a btree of names
in order for those that start with what was typed.

They are made here on PostgreSQL only and are not in Customer.Meta.indexes: SQLite (`make run`) has no
GIN indexes, and every index a model declares is made on every database, SQLite's table rebuilds
included. On SQLite this migration does nothing and the search reads the table.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations
from django.db.models import F, Index
from django.db.models.functions import Collate, Upper

TRIGRAM_INDEXES = [
    GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
    GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="customer_email_trgm"),
    GinIndex(fields=["phone"], opclasses=["gin_trgm_ops"], name="customer_phone_trgm"),
    # Names that start with what was typed, flagged customers and the others each read in name order and
    # left after a page: UPPER(name) in bytewise ("C") order, where LIKE 'MAR%' is a range of the index
    # and the order the search asks for is the index's own (`selectors.name_key`).
    Index(F("organization"), F("care_flag"), Collate(Upper("name"), "C"), F("id"), name="customer_name_prefix"),
]


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Here rather than with TrigramExtension: unapplying that operation asks pg_extension even on SQLite.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for index in TRIGRAM_INDEXES:
            schema_editor.add_index(apps.get_model("incidents", "Customer"), index)


def remove_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in TRIGRAM_INDEXES:
            schema_editor.remove_index(apps.get_model("incidents", "Customer"), index)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_list_indexes"),
    ]

    operations = [
        migrations.RunPython(add_indexes, remove_indexes),
    ]
