"""The operators' admin: find an incident's photos and files. They are added through the app (the pages,
the API) and removed with the customer's data, so nothing here adds, edits or deletes one; the file
itself is read through the app's permission-checked view, not from here."""

from django.contrib import admin

from incidents import admin as record_admin

from .models import Attachment


@admin.register(Attachment)
class AttachmentAdmin(record_admin.IncidentScopedAdmin):
    list_display = ["original_name", "incident", "kind", "size_bytes", "step", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "step"]
    search_fields = ["incident__reference", "original_name"]
    list_select_related = ["incident", "uploaded_by"]
    fields = ["incident", "kind", "step", "original_name", "content_type", "size_bytes", "width", "height",
              "uploaded_by", "uploaded_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
