from django.db import migrations, models


class Migration(migrations.Migration):
    """The timeline records a photo or file attached to an incident (the attachments app)."""

    dependencies = [("incidents", "0025_languages")]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="kind",
            field=models.CharField(choices=[("logged", "Logged"), ("apology", "Apology"), ("review", "Review"), ("fix", "Fix"), ("follow_up", "Follow-up"), ("deposition", "Deposition"), ("gesture_given", "Gesture given"), ("gesture_awaits_approval", "Gesture waits for approval"), ("gesture_approved", "Gesture approved"), ("gesture_refused", "Gesture refused"), ("reassigned", "Reassigned"), ("helper_added", "Helper added"), ("helper_removed", "Helper removed"), ("details_changed", "Details changed"), ("message_sent", "Message to the customer sent"), ("message_failed", "Message to the customer failed"), ("message_not_sent", "Message to the customer not sent"), ("survey_answered", "The customer answered"), ("breached", "Twenty-minute window missed"), ("escalated", "Escalated"), ("closed", "Closed"), ("attached", "Photo or file attached"), ("logged_from_page", "Logged from the page")], max_length=40),
        ),
    ]
