"""The Django admin is the operators' tool: the people who run the service, who are superusers.

Organizations manage their own locations, staff, API clients and settings in the app's Settings area,
which goes through the services and their role rules. Staff flags and model permissions granted to an
organization's manager open nothing here, so no dropdown can offer them another organization's rows.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError


class OperatorAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_superuser:
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                  params={"username": self.username_field.verbose_name})


class OperatorsAdminSite(admin.AdminSite):
    site_header = "Recovery operators"
    site_title = "Recovery operators"
    index_title = "Operate the service"
    login_form = OperatorAuthenticationForm

    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser
