"""What the API reads and writes. Input serializers reject unknown fields; output serializers read rows."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.models import WebhookEndpoint
from incidents import services as incident_services
from incidents.phones import validate_phone
from incidents.validators import validate_in_range, validate_single_line, validate_text
from incidents.models import (
    Busyness,
    Category,
    Channel,
    Customer,
    Event,
    FollowUp,
    Gesture,
    Incident,
    Location,
    Outcome,
    Severity,
    Stage,
    User,
)

TEXT = 10_000


class StrictSerializer(serializers.Serializer):
    # A field the API does not know is an error, not silently dropped: a typo must not lose data. (A
    # comment, not a docstring: the schema would show a docstring as every input's description.)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def text(**kwargs):
    return serializers.CharField(max_length=TEXT, validators=[validate_text], **kwargs)


def line(max_length, **kwargs):
    """One line of text: a name or a label that may end up in a mail header."""
    return serializers.CharField(max_length=max_length, validators=[validate_single_line], **kwargs)


def moment_field(**kwargs):
    return serializers.DateTimeField(validators=[validate_in_range], **kwargs)


# --- Input ---------------------------------------------------------------------------------------


class CustomerInput(StrictSerializer):
    name = line(200)
    email = serializers.EmailField(required=False, allow_blank=True)
    # Read as every door reads a number (incidents.phones); stored in E.164.
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="",
                                  validators=[validate_single_line, validate_phone])
    external_id = line(100, required=False, allow_blank=True, default="")


class IncidentCreateInput(StrictSerializer):
    customer = CustomerInput()
    summary = line(TEXT)
    channel = serializers.ChoiceField(choices=Channel.choices)
    category = line(100, required=False, allow_blank=True, default="",
                    help_text="Optional, as on the Log a failure page: a short free label; new labels are accepted.")
    location = serializers.SlugField(max_length=50, help_text="The location's code.")
    occurred_at = moment_field(required=False, help_text="Defaults to now; not before 2000, not in the future.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True, default="",
                                       help_text="Defaults to medium.")
    busyness = serializers.ChoiceField(choices=Busyness.choices, required=False, allow_blank=True, default="")
    external_id = line(100, required=False, allow_blank=True, default="",
                       help_text="The helpdesk ticket id; unique per organization.")
    owner = serializers.CharField(max_length=150, required=False, help_text="Username; defaults to the caller.")


class IncidentPatchInput(StrictSerializer):
    summary = line(TEXT, required=False, help_text="What went wrong, in the customer's words or the ticket's title.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    category = line(100, required=False, allow_blank=True,
                    help_text="A short free label; new labels are accepted; empty clears it.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    occurred_at = moment_field(required=False, help_text="When the failure happened: not after it was logged.")
    external_id = line(100, required=False, allow_blank=True,
                       help_text="The helpdesk ticket id; unique per organization; empty clears it.")
    owner = serializers.CharField(max_length=150, required=False,
                                  help_text="Username of the new owner (GET /api/v1/staff/); a manager's or the helpdesk's call.")


class GestureDecisionInput(StrictSerializer):
    manager = serializers.CharField(
        max_length=150, required=False,
        help_text="Username of the manager who decided. Required from a helpdesk's token; staff decide as themselves.")


class HelperInput(StrictSerializer):
    username = serializers.CharField(max_length=150, help_text="Username of the person to bring in (GET /api/v1/staff/).")


class CustomerPatchInput(StrictSerializer):
    lifetime_value = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, allow_null=True,
        help_text="What the customer is worth over time, in the organization's currency; null when unknown.")


class CareFlagInput(StrictSerializer):
    note = line(300, help_text="What the next person serving this customer should know.")


class VersionedStepInput(StrictSerializer):
    """A step can be recorded again to correct it. Sending the version you read makes that safe:
    if someone saved a newer one meanwhile, the answer is 409 with what is saved now."""

    expected_version = serializers.IntegerField(
        required=False, min_value=0,
        help_text="The step's version you last read (0 when it is new). Omit it to overwrite whatever is saved.",
    )


class ApologyInput(VersionedStepInput):
    channel = serializers.ChoiceField(choices=Channel.choices)
    text = text()
    customer_accepted = serializers.BooleanField(required=False, default=False)
    at = moment_field(required=False, help_text="When the apology was made; defaults to now.")


class ReviewInput(VersionedStepInput):
    customer_account = text()
    customer_needs = text()
    customer_losses = text(required=False, allow_blank=True, default="")


class GestureInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=Gesture.Kind.choices)
    description = line(300)
    cost = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, allow_blank=True,
                                      help_text="ISO 4217 code; defaults to the organization's currency.")


class FixInput(VersionedStepInput):
    description = text()
    fixed = serializers.BooleanField()
    gesture = GestureInput(required=False)


class FollowUpInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=FollowUp.Kind.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    note = text()


class DepositionInput(VersionedStepInput):
    root_cause = text()
    circumstances = text()
    busyness = serializers.ChoiceField(choices=Busyness.choices)
    product = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    prevention = text(required=False, allow_blank=True, default="")


class OutcomeInput(StrictSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    satisfaction = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, default=None)


# --- Output --------------------------------------------------------------------------------------


CARE_FLAG_HELP = "True while the care flag shows: raised, not cleared, and not past care_flag_expires_at."


class CustomerBrief(serializers.ModelSerializer):
    care_flag = serializers.BooleanField(source="care_flag_is_open", read_only=True, help_text=CARE_FLAG_HELP)

    class Meta:
        model = Customer
        fields = ["id", "name", "care_flag"]


class IncidentSerializer(serializers.ModelSerializer):
    stage = serializers.ChoiceField(choices=Stage.choices, read_only=True)
    customer = CustomerBrief(read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    category = serializers.CharField(source="category.name", read_only=True, allow_null=True, default=None)
    owner = serializers.CharField(source="owner.username", read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    busyness = serializers.CharField(
        read_only=True, help_text="quiet, normal, busy, peak; empty when not given. The deposition's answer replaces it."
    )
    outcome = serializers.CharField(read_only=True, help_text="The outcome staff recorded; empty until then.")
    customer_outcome = serializers.CharField(
        read_only=True, help_text="The outcome the customer's answer to the satisfaction check confirms; empty until they answer.")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id", "reference", "stage", "is_open", "summary", "channel", "category", "severity", "busyness",
            "location", "owner", "customer", "external_id", "occurred_at", "logged_at", "follow_up_due_at",
            "responded_at", "breached_at", "fixed_at", "closed_at", "next_due_at", "updated_at", "outcome",
            "customer_outcome", "links",
        ]
        read_only_fields = fields

    def get_links(self, incident) -> dict[str, str]:
        base = reverse("api:incident-detail", args=[incident.pk])
        return {
            "self": base,
            "timeline": base + "timeline/",
            **{step: f"{base}{step}/" for step in ("apology", "review", "fix", "follow-ups", "deposition", "outcome")},
        }

    def to_representation(self, incident):
        # Written out because every answer about an incident runs it: DRF's field-by-field walk (and
        # building the fields from the model first) took longer than the create's SQL. The fields
        # above still define the schema; tests/helpdesk/test_incidents.py checks the two agree.
        moment = _MOMENT.to_representation
        customer = incident.customer
        data = {
            "id": incident.pk, "reference": incident.reference, "stage": incident.stage, "is_open": incident.is_open,
            "summary": incident.summary, "channel": incident.channel,
            "category": incident.category.name if incident.category_id else None,
            "severity": incident.severity, "busyness": incident.busyness, "location": incident.location.code,
            "owner": incident.owner.username,
            "customer": {"id": customer.pk, "name": customer.name, "care_flag": customer.care_flag_is_open},
            "external_id": incident.external_id,
        }
        for name in ("occurred_at", "logged_at", "follow_up_due_at", "responded_at", "breached_at", "fixed_at",
                     "closed_at", "next_due_at", "updated_at"):
            value = getattr(incident, name)
            data[name] = None if value is None else moment(value)
        data["outcome"], data["customer_outcome"] = incident.outcome, incident.customer_outcome
        data["links"] = self.get_links(incident)
        return data


_MOMENT = serializers.DateTimeField()


class CustomerSerializer(serializers.ModelSerializer):
    care_flag = serializers.BooleanField(source="care_flag_is_open", read_only=True, help_text=CARE_FLAG_HELP)
    care_flag_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When a raised care flag stops showing, unless cleared sooner.")
    care_flag_cleared_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                     help_text="When someone last cleared the care flag.")
    care_flag_cleared_by = serializers.CharField(source="care_flag_cleared_by.username", read_only=True,
                                                 allow_null=True, default=None, help_text="Who last cleared it.")
    recent_incidents = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "external_id", "lifetime_value", "care_flag", "care_note",
                  "care_flagged_at", "care_flag_expires_at", "care_flag_cleared_at", "care_flag_cleared_by",
                  "recent_incidents"]
        read_only_fields = fields

    def get_recent_incidents(self, customer) -> list[dict]:
        recent = self.context.get("recent_incidents")
        if recent is None:
            return []
        return [
            {"id": incident.pk, "reference": incident.reference, "stage": incident.stage,
             "logged_at": serializers.DateTimeField().to_representation(incident.logged_at),
             "url": reverse("api:incident-detail", args=[incident.pk])}
            for incident in recent
        ]


@extend_schema_field({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "example": "09:00"})
class LocalTime(serializers.TimeField):
    """A time of day on the location's own clock, as HH:MM."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", read_only=True, **kwargs)


class WeeklySpanSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="0 is Monday, 6 Sunday.")
    opens = LocalTime()
    closes = LocalTime(help_text="At or before `opens`: the span runs past midnight; equal to it: round the clock.")


class LocationSerializer(serializers.ModelSerializer):
    opens_at = LocalTime(help_text="The daily window the location had before its weekly schedule; `weekly_hours` rules.")
    closes_at = LocalTime(help_text="See opens_at.")
    weekly_hours = serializers.SerializerMethodField(help_text="The spans of the location's week, on its clock.")

    class Meta:
        model = Location
        fields = ["code", "name", "region", "timezone", "opens_at", "closes_at", "weekly_hours", "holiday_country",
                  "holiday_subdivision"]
        read_only_fields = fields

    @extend_schema_field(WeeklySpanSerializer(many=True))
    def get_weekly_hours(self, location):
        week = incident_services.calendar_for(location).week
        return WeeklySpanSerializer([{"weekday": day, "opens": span.opens, "closes": span.closes}
                                     for day, spans in enumerate(week) for span in spans], many=True).data


class StaffSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    locations = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True,
                                             help_text="Codes of the locations they work at.")
    language = serializers.CharField(read_only=True, help_text="The language they work in (en, es); empty: their "
                                                                "browser's.")

    class Meta:
        model = User
        fields = ["username", "name", "role", "locations", "language"]
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["name"]
        read_only_fields = fields


class GestureSerializer(serializers.ModelSerializer):
    given_by = serializers.CharField(source="given_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Gesture
        fields = ["id", "kind", "description", "cost", "currency", "given_by", "given_at", "approval", "decided_by",
                  "decided_at"]
        read_only_fields = fields


class HelperSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ["username", "name"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "at", "kind", "summary", "actor", "before", "after"]
        read_only_fields = fields

    def get_actor(self, event) -> str:
        return event.actor.username if event.actor_id else event.actor_label


class CoachFlag(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.CharField()
    suggestion = serializers.CharField()


class StepAnswer(serializers.Serializer):
    """Every step answers with the step's own record and the incident as it now stands."""

    step = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    record = serializers.DictField()
    coach_flags = CoachFlag(many=True, required=False)
    gesture = serializers.DictField(required=False)
    incident = IncidentSerializer()


class ErrorSerializer(serializers.Serializer):
    """An RFC 9457 problem document (application/problem+json), the one shape of every error answer."""

    type = serializers.CharField(help_text="A stable URI naming the kind of problem, /api/v1/problems/<code>; "
                                           "its address answers with a description.")
    title = serializers.CharField(help_text="The kind of problem, in a few words; the same for every answer of one type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong this time, for a person to read.")
    code = serializers.CharField(help_text="The last part of `type` as a word, e.g. validation_error, out_of_order, rate_limited.")
    message = serializers.CharField(help_text="The same as `detail`.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Messages per field (nested fields as customer.email); empty when not about a field.")


class WebhookInput(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.EventType.choices), required=False, default=list,
        help_text="Event types to send; empty or absent means all.",
    )

