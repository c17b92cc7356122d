"""The API's records in the admin: clients (a new one's token is shown once; their tokens are listed by
prefix), webhook endpoints, and every delivery with its attempts, read-only."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from incidents.admin import OrganizationScopedAdmin, ReadOnlyInline
from incidents.services import RecoveryError

from . import services, tokens
from .models import ApiClient, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    # A webhook address typed without a scheme is meant to be https.
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         widget=forms.URLInput(attrs={"class": "vURLField"}))
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.EventType.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means all.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "active"]

    def clean(self):
        cleaned = super().clean()
        # Only a new or changed address is looked up again; delivery checks every send anyway.
        if "url" in cleaned and {"url", "events"} & set(self.changed_data):
            try:
                services.check_webhook(cleaned["url"], cleaned.get("events", []))
            except RecoveryError as problem:
                for field, field_messages in problem.field_errors.items():
                    self.add_error(field, field_messages)
        return cleaned


class WebhookEndpointInline(admin.StackedInline):
    model = WebhookEndpoint
    form = WebhookEndpointForm
    extra = 0
    fields = ["url", "events", "active", "secret"]
    readonly_fields = ["secret"]


@admin.register(ApiClient)
class ApiClientAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "rate_limit_per_minute", "active", "created_at"]
    list_filter = ["active"]
    fields = ["name", "organization", "rate_limit_per_minute", "active", "user", "token_list"]
    readonly_fields = ["user", "token_list"]
    inlines = [WebhookEndpointInline]

    @admin.display(description="Tokens")
    def token_list(self, obj):
        """By prefix only (the hash is all that is kept); they are issued, rotated and revoked on
        Settings → API clients or by the commands."""
        if obj.pk is None:
            return "Shown once, when the client is saved."
        now = timezone.now()
        return "; ".join(f"{token.prefix}… {token.scope}, {tokens.state(token, now)}" for token in obj.tokens.all()) or "None"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # A new client gets its own member-of-staff row and token through the service.
        client, key = services.create_api_client(
            organization=obj.organization, name=obj.name, rate_limit_per_minute=obj.rate_limit_per_minute
        )
        obj.pk, obj.user, obj.created_at = client.pk, client.user, client.created_at
        messages.warning(request, f"Token for {client.name} (shown once, copy it now): {key}")


class WebhookAttemptInline(ReadOnlyInline, admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "error", "duration_ms"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdmin):
    organization_path = "endpoint__client__organization"
    list_display = ["event_id", "event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "incident__reference"]
    list_select_related = ["endpoint"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
