"""The managers' door: the console at /manage/, the weekly digest and its beat entry. It stands on the
recovery record (`incidents`) and keeps its own state; the record imports nothing from here."""

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "insights"
    label = "insights"
    verbose_name = "Managers' console"
