"""The timeline is append-only in the database too (PostgreSQL): no UPDATE or DELETE of an event,
whatever code path tries. Deleting a whole incident (which cascades) is refused by the same trigger,
which is intended: recoveries are anonymized, never erased.

The one exception is anonymizing a customer on request: `incidents.customer_data.anonymize_customer`
sets the transaction-local flag `recovery.redacting` and may then blank personal text in events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('recovery.redacting', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'timeline events are append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_event_append_only
    BEFORE UPDATE OR DELETE ON incidents_event
    FOR EACH ROW EXECUTE FUNCTION incidents_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS incidents_event_append_only ON incidents_event;
DROP FUNCTION IF EXISTS incidents_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
