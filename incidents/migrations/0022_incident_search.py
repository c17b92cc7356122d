"""The incident search: each incident's search document (its customer, summary and the notes of its
steps, `incidents.services.search`) and, on PostgreSQL, its tsvector with a GIN index.

The GIN index is made here on PostgreSQL only and is not in Incident.Meta.indexes, as in 0021: SQLite
has no GIN indexes and keeps the tsvector column empty (its search reads the text). Existing incidents
get their document here, in batches; on PostgreSQL the tsvector then follows in one UPDATE.
"""

import django.contrib.postgres.search
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

SEARCH_INDEX = GinIndex(fields=["search_vector"], name="incident_search")

# As incidents.services.search.DOCUMENT_FIELDS at the time of this migration.
DOCUMENT_FIELDS = (
    "customer__name", "customer__email", "summary", "apology__text", "review__customer_account",
    "review__customer_losses", "review__customer_needs", "fix__description", "deposition__circumstances",
    "deposition__root_cause", "deposition__prevention",
)
BATCH = 2000


def fill_documents(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    FollowUp = apps.get_model("incidents", "FollowUp")
    last = 0
    while True:
        rows = list(Incident.objects.filter(pk__gt=last).order_by("pk").values_list("pk", *DOCUMENT_FIELDS)[:BATCH])
        if not rows:
            break
        last = rows[-1][0]
        notes = {}
        for incident_id, note in (FollowUp.objects.filter(incident_id__in=[row[0] for row in rows])
                                  .order_by("done_at", "pk").values_list("incident_id", "note")):
            notes.setdefault(incident_id, []).append(note)
        incidents = [
            Incident(pk=row[0], search_document="\n".join(part for part in (*row[1:], *notes.get(row[0], ())) if part))
            for row in rows
        ]
        Incident.objects.bulk_update(incidents, ["search_document"])
    if schema_editor.connection.vendor == "postgresql":
        Incident.objects.update(search_vector=SearchVector("search_document", config="simple"))
        # The updates leave the table's deferred foreign-key checks pending, and PostgreSQL makes no index
        # on a table with pending trigger events: run the checks now.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.add_index(Incident, SEARCH_INDEX)


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("incidents", "Incident"), SEARCH_INDEX)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0021_customer_search")]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="search_document",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="incident",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(fill_documents, remove_index),
    ]
