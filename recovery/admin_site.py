"""The Django admin is the operators' tool: the people who run the service, who are superusers.

Organizations manage their own locations, staff, API clients and settings in the app's Settings area,
which goes through the services and their role rules. Staff flags and model permissions granted to an
organization's manager open nothing here, so no dropdown can offer them another organization's rows.
"""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext


class OperatorsAdminSite(admin.AdminSite):
    site_header = "Recovery operators"
    site_title = "Recovery operators"
    index_title = "Operate the service"

    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def login(self, request, extra_context=None):
        """Operators sign in through the app's sign-in, so its throttle and two-factor apply to them as to
        everyone; the admin's own password form is never offered (it would skip both)."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("login"))
        if not self.has_permission(request):
            raise PermissionDenied(gettext("The admin is for the service's operators."))
        return super().login(request, extra_context)
