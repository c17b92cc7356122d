from django.contrib.admin.apps import AdminConfig


class OperatorsAdminConfig(AdminConfig):
    """The Django admin with the operators' site (`recovery.admin_site`) as `admin.site`."""

    default_site = "recovery.admin_site.OperatorsAdminSite"
