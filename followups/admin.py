from django.contrib import admin

from incidents.admin import IncidentScopedAdmin

from .models import Delivery, Notification, Reminder, SweepFailure


class ReadOnly(IncidentScopedAdmin):
    """What the engine did is a record: look, don't edit. Only for incidents the user may see."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Reminder)
class ReminderAdmin(ReadOnly):
    list_display = ["incident", "kind", "due_at", "sent_at"]
    list_filter = ["kind"]
    raw_id_fields = ["incident"]


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ["title", "recipient", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["incident", "reminder", "recipient"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    incident_path = "notification__incident"
    list_display = ["notification", "channel", "state", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["state", "channel"]
    raw_id_fields = ["notification"]


@admin.register(SweepFailure)
class SweepFailureAdmin(ReadOnly):
    list_display = ["incident", "failed_at", "error"]
    raw_id_fields = ["incident"]
