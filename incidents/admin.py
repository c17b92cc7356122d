"""The operators' admin (superusers only, see `recovery.admin_site`): find and read recoveries across
organizations, and set up organizations. Organizations manage themselves in the app's Settings area.

Steps are shown, never edited here: a step changed in the admin would skip the rules and the timeline,
so every change to a recovery goes through `incidents.services` (the admin actions below included).
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from organization_settings import services as organization_settings

from . import customer_data, selectors, services
from .models import (
    Apology,
    Category,
    CoachPhrase,
    Customer,
    Deposition,
    Event,
    Fix,
    FollowUp,
    Gesture,
    Incident,
    CalendarException,
    Location,
    Organization,
    Resolution,
    Review,
    User,
    WeeklySpan,
)


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Only an operator without an organization sees every organization's rows; one who belongs to an
    organization sees only that one's."""

    organization_path = "organization"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser and user.organization_id is None:
            return queryset
        return queryset.filter(**{self.organization_path: user.organization_id})


class IncidentScopedAdmin(admin.ModelAdmin):
    """Rows that belong to an incident: only those of incidents the user may see, by the same rule
    as the pages and the API (`selectors.visible_incidents`)."""

    incident_path = "incident"

    def get_queryset(self, request):
        visible = selectors.visible_incidents(request.user).values("pk")
        return super().get_queryset(request).filter(**{f"{self.incident_path}__in": visible})


class ReadOnlyInline(admin.StackedInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApologyInline(ReadOnlyInline):
    model = Apology


class ReviewInline(ReadOnlyInline):
    model = Review


class FixInline(ReadOnlyInline):
    model = Fix


class GestureInline(ReadOnlyInline, admin.TabularInline):
    model = Gesture
    fields = ["kind", "description", "cost", "currency", "given_by", "approval", "decided_by"]


class FollowUpInline(ReadOnlyInline, admin.TabularInline):
    model = FollowUp
    fields = ["done_at", "kind", "channel", "note", "done_by"]


class DepositionInline(ReadOnlyInline):
    model = Deposition


class ResolutionInline(ReadOnlyInline):
    model = Resolution


class EventInline(ReadOnlyInline, admin.TabularInline):
    model = Event
    fields = ["at", "actor", "actor_label", "kind", "summary"]
    verbose_name_plural = "timeline"


@admin.register(Incident)
class IncidentAdmin(OrganizationScopedAdmin):
    list_display = ["reference", "customer", "location", "category", "stage", "owner", "clock", "logged_at"]
    list_filter = ["stage", "location", "location__region", "category", "severity", "busyness", "channel",
                   ("closed_at", admin.EmptyFieldListFilter), ("breached_at", admin.EmptyFieldListFilter)]
    search_fields = ["reference", "summary", "external_id", "customer__name", "customer__email", "customer__phone"]
    date_hierarchy = "logged_at"
    list_select_related = ["customer", "location", "category", "owner"]
    inlines = [ApologyInline, ReviewInline, FixInline, GestureInline, FollowUpInline, DepositionInline,
               ResolutionInline, EventInline]
    actions = ["take_ownership"]

    def get_queryset(self, request):
        # The same visibility as the pages and the API: managers see their own locations.
        return selectors.visible_incidents(request.user).select_related(*self.list_select_related)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Incident._meta.fields] + ["helpers"]

    def has_add_permission(self, request):
        return False  # incidents are logged from the app or the API, which start the clock

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Twenty-minute clock")
    def clock(self, incident):
        return incident.window_state(timezone.now())

    @admin.action(description="Take ownership of the selected open recoveries")
    def take_ownership(self, request, queryset):
        done = 0
        for incident in queryset.filter(closed_at__isnull=True):
            try:
                services.reassign(incident, by=request.user, owner=request.user)
                done += 1
            except services.RecoveryError as error:
                self.message_user(request, f"{incident.reference}: {error.message}", messages.ERROR)
        self.message_user(request, gettext("You now own %(done)s recoveries.") % {"done": done})


@admin.register(Gesture)
class GestureAdmin(IncidentScopedAdmin):
    list_display = ["incident", "description", "cost", "currency", "given_by", "approval", "given_at"]
    list_filter = ["approval", "kind", "incident__location"]
    search_fields = ["description", "incident__reference", "incident__customer__name"]
    list_select_related = ["incident", "given_by"]
    actions = ["approve", "refuse"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Gesture._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, approve):
        for gesture in queryset.filter(approval=Gesture.Approval.PENDING):
            try:
                services.decide_gesture(gesture, by=request.user, approve=approve)
            except services.RecoveryError as error:
                self.message_user(request, error.message, messages.ERROR)
                return
        self.message_user(request, "Approved." if approve else "Refused.")

    @admin.action(description="Approve the selected gestures waiting for a manager")
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Refuse the selected gestures waiting for a manager")
    def refuse(self, request, queryset):
        self._decide(request, queryset, approve=False)


class OpenCareFlagFilter(admin.SimpleListFilter):
    """The flag as the pages show it: raised, not cleared, not expired (Customer.objects.care_flag_open)."""

    title = gettext_lazy("care flag")
    parameter_name = "care_flag_open"

    def lookups(self, request, model_admin):
        return [("yes", gettext_lazy("Open")), ("no", gettext_lazy("None open"))]

    def queryset(self, request, queryset):
        open_now = Customer.objects.care_flag_open(timezone.now()).values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=open_now)
        if self.value() == "no":
            return queryset.exclude(pk__in=open_now)
        return queryset


@admin.register(Customer)
class CustomerAdmin(OrganizationScopedAdmin):
    list_display = ["name", "email", "phone", "external_id", "lifetime_value", "open_care_flag"]
    list_filter = [OpenCareFlagFilter]
    search_fields = ["name", "email", "phone", "external_id"]
    # The flag is raised by logging a failure and cleared on the customer's page or the API (the services
    # keep its expiry and who cleared it), not typed here.
    readonly_fields = ["organization", "care_flag", "care_flagged_at", "care_flag_expires_at", "care_flag_cleared_at",
                       "care_flag_cleared_by", "created_at"]
    actions = ["export_data", "anonymize"]

    @admin.display(boolean=True, description=gettext_lazy("care flag open"))
    def open_care_flag(self, customer):
        return customer.care_flag_is_open

    def has_delete_permission(self, request, obj=None):
        return False  # customers are anonymized, so the statistics of their recoveries survive

    @admin.action(description="Export everything held about the selected customers (JSON)")
    def export_data(self, request, queryset):
        data = [customer_data.export_customer(customer) for customer in queryset]
        response = JsonResponse(data, safe=False, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="customer-data.json"'
        return response

    @admin.action(description="Anonymize the selected customers (keeps incident statistics)")
    def anonymize(self, request, queryset):
        for customer in queryset:
            customer_data.anonymize_customer(customer, by=request.user)
        self.message_user(request, f"Anonymized {queryset.count()} customers.")


class WeeklySpanInline(admin.TabularInline):
    """Shown, not edited here: the Settings page checks a calendar as a whole (overlaps, a week that never
    opens) in organization_settings.services.save_location."""

    model = WeeklySpan
    extra = 0
    can_delete = False
    readonly_fields = fields = ["weekday", "opens", "closes"]

    def has_add_permission(self, request, obj=None):
        return False


class CalendarExceptionInline(WeeklySpanInline):
    model = CalendarException
    readonly_fields = fields = ["date", "opens", "closes"]


@admin.register(Location)
class LocationAdmin(OrganizationScopedAdmin):
    list_display = ["name", "code", "region", "timezone", "holiday_country", "holiday_subdivision"]
    list_filter = ["region"]
    search_fields = ["name", "code", "region"]
    # The daily window before the weekly schedule: the calendar below (edited in Settings) rules.
    exclude = ["opens_at", "closes_at"]
    inlines = [WeeklySpanInline, CalendarExceptionInline]


class CoachPhraseForm(forms.ModelForm):
    class Meta:
        model = CoachPhrase
        fields = ["organization", "language", "phrase", "kind", "suggestion", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].required = False  # empty: the phrase's own, or English for a new one

    def clean_language(self):
        return self.cleaned_data.get("language") or self.instance.language or settings.LANGUAGE_CODE

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is not None and "phrase" in cleaned and "language" in cleaned:
            try:
                services.check_coach_phrase(organization, cleaned["phrase"], language=cleaned["language"],
                                            coach_phrase=self.instance)
            except services.RecoveryError as problem:
                for field, field_messages in problem.field_errors.items():
                    self.add_error(field, field_messages)
        return cleaned


@admin.register(CoachPhrase)
class CoachPhraseAdmin(OrganizationScopedAdmin):
    form = CoachPhraseForm
    list_display = ["phrase", "organization", "language", "kind", "suggestion", "active"]
    list_editable = ["active"]
    list_filter = ["language", "kind", "active", "organization"]
    search_fields = ["phrase", "suggestion"]

    def get_readonly_fields(self, request, obj=None):
        # A phrase stays with the organization whose list it is on.
        return ["organization"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        # The same service, and rules, as the managers' Coach phrases page. The list's "active" boxes
        # come here too.
        values = {field: getattr(obj, field) for field in ("language", "phrase", "kind", "suggestion", "active")}
        saved = services.save_coach_phrase(obj.organization, by=request.user, coach_phrase=obj if change else None, **values)
        obj.pk = saved.pk


@admin.register(Category)
class CategoryAdmin(OrganizationScopedAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class OrganizationAdminForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "language" in self.fields:  # empty: as it is (English for a new organization)
            self.fields["language"].required = False

    def clean_language(self):
        return self.cleaned_data.get("language") or self.instance.language or settings.LANGUAGE_CODE


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ["name", "slug", "currency", "follow_up_window", "default_discretion_budget"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # The slug names the organization's single sign-on callback address, which its provider keeps.
        return ["slug"] if obj is not None else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    def save_model(self, request, obj, form, change):
        if change:
            # The same service, and rules, as Settings → Organization.
            changed = {field: form.cleaned_data[field] for field in form.changed_data}
            organization_settings.update_organization(obj, by=request.user, **changed)
            return
        # A new organization gets the default coach phrases, whichever door made it.
        values = {field: form.cleaned_data[field] for field in form.cleaned_data if field not in ("name", "slug")}
        created = services.create_organization(name=obj.name, slug=obj.slug, **values)
        obj.pk = created.pk

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser and request.user.organization_id is None:
            return queryset
        return queryset.filter(pk=request.user.organization_id)


@admin.register(User)
class StaffAdmin(UserAdmin, OrganizationScopedAdmin):
    list_display = ["username", "first_name", "last_name", "role", "organization", "is_active"]
    list_filter = ["role", "locations", "is_active"]
    fieldsets = UserAdmin.fieldsets + (
        ("Recovery", {"fields": ["organization", "role", "locations", "discretion_budget", "language"]}),
    )
    filter_horizontal = ["locations", "groups", "user_permissions"]


@admin.register(Event)
class EventAdmin(IncidentScopedAdmin):
    """The timeline, for reading across incidents. Append-only: nothing here edits or deletes."""

    list_display = ["at", "incident", "kind", "summary", "actor"]
    list_filter = ["kind"]
    search_fields = ["incident__reference", "summary"]
    list_select_related = ["incident", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
