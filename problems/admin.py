"""The operators' admin: find and read problems across organizations. Problems change only in the app
(the managers' pages and the API), through problems.services, so nothing here edits one."""

from django.contrib import admin

from incidents import admin as record_admin

from .models import CorrectiveAction, Problem, ProblemEvent


class ReadOnlyInline(record_admin.ReadOnlyInline):
    template = admin.TabularInline.template  # a row per action or entry


class ActionInline(ReadOnlyInline):
    model = CorrectiveAction
    fields = ["description", "owner", "due_on", "done_at", "escalated_at"]


class EventInline(ReadOnlyInline):
    model = ProblemEvent
    fields = ["at", "kind", "actor", "summary"]


@admin.register(Problem)
class ProblemAdmin(record_admin.OrganizationScopedAdmin):
    list_display = ["title", "organization", "status", "owner", "opened_at", "fixed_at"]
    list_filter = ["status", "organization"]
    search_fields = ["title", "suspected_cause", "confirmed_cause"]
    list_select_related = ["organization", "owner"]
    inlines = [ActionInline, EventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
