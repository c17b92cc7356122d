"""The working day: each open incident stores when its earliest unkept promise to the customer falls due
(the frontline list's order), and a gesture still waiting when its recovery closes lapses visibly."""

from django.db import migrations, models


def store_promise_due_at(apps, schema_editor):
    """Fill promise_due_at for the open incidents, by the rule the services write it with from now on
    (incidents.clock.next_promise over services.facts_for / policy_for, which read only the incident's
    row, its follow-ups, its organization and its location). Closed incidents keep NULL: nothing is
    promised any more."""
    from incidents import clock
    from incidents.services.clocks import facts_for, policy_for

    Incident = apps.get_model("incidents", "Incident")
    open_incidents = Incident.objects.filter(closed_at__isnull=True).select_related("organization", "location")
    for incident in open_incidents.iterator(chunk_size=500):
        promise = clock.next_promise(facts_for(incident), policy_for(incident.organization, incident.location))
        if promise:
            Incident.objects.filter(pk=incident.pk).update(promise_due_at=promise.due_at)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0026_attachment_events")]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="promise_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="gesture",
            name="approval",
            field=models.CharField(
                choices=[("not_needed", "Within budget"), ("pending", "Waiting for a manager"), ("approved", "Approved"),
                         ("refused", "Refused"), ("lapsed", "Lapsed: the recovery closed before a decision")],
                default="not_needed", max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="kind",
            field=models.CharField(choices=[("logged", "Logged"), ("apology", "Apology"), ("review", "Review"), ("fix", "Fix"), ("follow_up", "Follow-up"), ("deposition", "Deposition"), ("gesture_given", "Gesture given"), ("gesture_awaits_approval", "Gesture waits for approval"), ("gesture_approved", "Gesture approved"), ("gesture_refused", "Gesture refused"), ("gesture_lapsed", "Gesture lapsed undecided"), ("reassigned", "Reassigned"), ("helper_added", "Helper added"), ("helper_removed", "Helper removed"), ("details_changed", "Details changed"), ("message_sent", "Message to the customer sent"), ("message_failed", "Message to the customer failed"), ("message_not_sent", "Message to the customer not sent"), ("survey_answered", "The customer answered"), ("breached", "Twenty-minute window missed"), ("escalated", "Escalated"), ("closed", "Closed"), ("attached", "Photo or file attached"), ("logged_from_page", "Logged from the page")], max_length=40),
        ),
        migrations.RunPython(store_promise_due_at, migrations.RunPython.noop, elidable=True),
    ]
