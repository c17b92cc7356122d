from django.apps import AppConfig


class OrganizationSettingsConfig(AppConfig):
    """The Settings area: an organization's admins and managers set up locations, staff, API clients,
    webhooks and the organization's clocks in the app, through the services and their role rules."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "organization_settings"
    verbose_name = "Settings"
