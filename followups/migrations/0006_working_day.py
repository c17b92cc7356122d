from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("followups", "0005_export_ready_notifications")]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("internal_alert", "Internal alert"), ("heads_up", "Heads-up"), ("window_missed", "Window missed"),
                    ("escalation", "Escalation"), ("progress_report", "Progress report due"),
                    ("progress_missed", "Progress report missed"), ("check_back", "Check back"),
                    ("wrap_up", "Wrap-up note"), ("known_problem", "Known problem happened again"),
                    ("action_due", "Corrective action due"), ("action_overdue", "Corrective action overdue"),
                    ("problem_update", "Problem update"), ("export_ready", "Export ready"),
                    ("gesture_lapsed", "Gesture lapsed undecided"),
                ],
                max_length=30,
            ),
        ),
    ]
