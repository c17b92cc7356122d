from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "followups"
    verbose_name = "Follow-ups"

    def ready(self):
        from incidents.customer_data import also_redact
        from incidents.services import also_when_gestures_lapse

        from .services import redact_notifications, tell_gestures_lapsed

        also_redact(redact_notifications)
        also_when_gestures_lapse(tell_gestures_lapsed)
