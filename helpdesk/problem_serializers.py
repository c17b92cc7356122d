"""What the API reads and writes about problems: the recurring causes managers own until fixed for good.

Input serializers reject unknown fields; names a helpdesk knows (a location code, a username, a category's
name) are resolved to the organization's rows here, and a name that is not the organization's is a field
error. The representation is written out in `represent` (the serializers' fields define the schema), the
one shape of a problem in answers and, without the verdict, in `problem.*` webhooks.
"""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from incidents.models import Busyness, Category, Channel, Location, User
from incidents.services import RecoveryError
from problems.models import CorrectiveAction, Problem, Status, overdue_condition
from problems.patterns import Pattern
from problems.selectors import verdict_of

from .serializers import StrictSerializer, line, moment_field, text

# --- Input ---------------------------------------------------------------------------------------


class PatternInput(StrictSerializer):
    location = serializers.SlugField(max_length=50, required=False, allow_null=True,
                                     help_text="A location code (GET /api/v1/locations/); null or absent: any.")
    region = line(100, required=False, allow_blank=True, default="", help_text="A region's name; empty: any.")
    category = line(100, required=False, allow_null=True,
                    help_text="A category's name or id (GET /api/v1/categories/); null or absent: any.")
    busyness = serializers.ChoiceField(choices=Busyness.choices, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True, default="")
    logged_by = serializers.CharField(max_length=150, required=False, allow_null=True,
                                      help_text="Username of the staff member on the spot (with the hours: a shift).")
    weekday = serializers.IntegerField(min_value=1, max_value=7, required=False, allow_null=True,
                                       help_text="ISO weekday in the location's time zone: 1 = Monday … 7 = Sunday.")
    hour_from = serializers.IntegerField(min_value=0, max_value=23, required=False, allow_null=True,
                                         help_text="First hour of the window, local time (0–23).")
    hour_to = serializers.IntegerField(min_value=1, max_value=24, required=False, allow_null=True,
                                       help_text="End of the window, exclusive (1–24): 15 to 16 is one hour.")


class ProblemCreateInput(StrictSerializer):
    title = line(200)
    owner = serializers.CharField(max_length=150, help_text="Username of the person who owns the problem (GET /api/v1/staff/).")
    suspected_cause = text(required=False, allow_blank=True, default="")
    pattern = PatternInput(required=False, help_text="Which incidents belong to the problem, in the trends page's "
                                                     "terms; every field left out means any. None: linked by hand only.")


class ProblemPatchInput(StrictSerializer):
    title = line(200, required=False)
    owner = serializers.CharField(max_length=150, required=False, help_text="Username of the new owner.")
    suspected_cause = text(required=False, allow_blank=True)
    confirmed_cause = text(required=False, allow_blank=True)
    pattern = PatternInput(required=False, help_text="The whole new pattern: fields left out mean any.")
    status = serializers.ChoiceField(
        choices=Status.choices, required=False,
        help_text="investigating, fix_planned or closed (closed reopens as investigating). To start watching, "
                  "send fixed_at instead.")
    fixed_at = moment_field(required=False, help_text="When the fix was made (not in the future): the problem "
                                                      "watches its pattern from then on and its verdict counts from it.")


class ActionInput(StrictSerializer):
    description = line(300)
    owner = serializers.CharField(max_length=150, help_text="Username of the person who does it.")
    due_on = serializers.DateField(help_text="Not before the day the problem was opened.")


class ActionDoneInput(StrictSerializer):
    done_at = moment_field(required=False, help_text="When it was done; defaults to now; not in the future.")


def resolved_pattern(organization_id, data):
    """The Pattern the input names; RecoveryError with `pattern.<field>` errors for a name that is not the
    organization's, or hours that cannot be right."""
    errors = {}
    ids = {}
    if data.get("location"):
        ids["location_id"] = Location.objects.filter(organization_id=organization_id, code=data["location"]).values_list("pk", flat=True).first()
        if ids["location_id"] is None:
            errors["location"] = [f"No location with the code '{data['location']}'."]
    if data.get("category"):
        name = str(data["category"]).strip()
        found = Category.objects.filter(organization_id=organization_id)
        by_id = Q(pk=int(name)) if name.isdigit() and len(name) < 18 else Q(pk__in=[])
        found = found.filter(by_id | Q(name__iexact=name))
        ids["category_id"] = found.values_list("pk", flat=True).first()
        if ids["category_id"] is None:
            errors["category"] = [f"No category '{name}'."]
    if data.get("logged_by"):
        ids["logged_by_id"] = User.objects.filter(organization_id=organization_id, username=data["logged_by"]).values_list("pk", flat=True).first()
        if ids["logged_by_id"] is None:
            errors["logged_by"] = [f"No staff with the username '{data['logged_by']}'."]
    pattern = Pattern(region=(data.get("region") or "").strip(), busyness=data.get("busyness") or "",
                      channel=data.get("channel") or "", weekday=data.get("weekday"), hour_from=data.get("hour_from"),
                      hour_to=data.get("hour_to"), **ids)
    errors = {**pattern.errors(), **errors}
    if errors:
        raise RecoveryError("Please check the pattern.",
                            field_errors={f"pattern.{name}": messages for name, messages in errors.items()})
    return pattern


# --- Output --------------------------------------------------------------------------------------


def problem_rows(*, now):
    """Problems with what their representation shows: the pattern's names in the same query, and the
    counts (linked incidents, open and overdue actions) as subtotals, so a page of problems is one query
    (plus the verdict's counts for those with a fix marked done)."""
    today = timezone.localdate(now)
    return Problem.objects.select_related("owner", "location", "category", "logged_by").annotate(
        linked_count=Count("links", distinct=True),
        open_actions=Count("actions", filter=Q(actions__done_at__isnull=True), distinct=True),
        overdue_actions=Count("actions", filter=overdue_condition(today, via="actions__"), distinct=True),
    )


class Named(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class NamedCategory(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class Person(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()


class PatternSerializer(serializers.Serializer):
    location = Named(allow_null=True)
    region = serializers.CharField()
    category = NamedCategory(allow_null=True)
    busyness = serializers.CharField()
    channel = serializers.CharField()
    logged_by = Person(allow_null=True)
    weekday = serializers.IntegerField(allow_null=True)
    hour_from = serializers.IntegerField(allow_null=True)
    hour_to = serializers.IntegerField(allow_null=True)


class VerdictSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["not_marked", "too_early", "fixed", "unclear", "not_fixed"])
    text = serializers.CharField(help_text="In words, e.g. \"Since the change on 3 Nov: 1 incident in 4 weeks where "
                                           "14 were expected at the old rate: fixed\".")


class CountsSerializer(serializers.Serializer):
    incidents = serializers.IntegerField(help_text="Incidents linked to the problem.")
    open_actions = serializers.IntegerField(help_text="Corrective actions not done yet.")
    overdue_actions = serializers.IntegerField(help_text="Corrective actions not done whose due day has passed.")


class ProblemWithoutVerdict(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    is_open = serializers.BooleanField()
    owner = serializers.CharField(help_text="The owner's username.")
    suspected_cause = serializers.CharField()
    confirmed_cause = serializers.CharField()
    pattern = PatternSerializer()
    pattern_text = serializers.CharField(help_text="The pattern in words, e.g. \"Wed 15:00–16:00 at Riverside\".")
    found_as = serializers.CharField(help_text="Where the pattern came from (a cluster's words), if anywhere.")
    opened_at = serializers.DateTimeField()
    fixed_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    close_proposed_at = serializers.DateTimeField(allow_null=True, help_text="When closing was proposed after a "
                                                                            "watching period without recurrence.")
    updated_at = serializers.DateTimeField()
    counts = CountsSerializer()
    version = serializers.IntegerField(help_text="Counts saves; the ETag names it.")
    url = serializers.CharField()


class ProblemSerializer(ProblemWithoutVerdict):
    verdict = VerdictSerializer(help_text="Did the fix work: the pattern's rate since the fix against before it.")


_MOMENT = serializers.DateTimeField()


def _moment(value):
    return None if value is None else _MOMENT.to_representation(value)


def represent(problem, *, now, with_verdict=True):
    """A problem read through `problem_rows`, as the API and its webhooks show it."""
    location, category, logged_by = problem.location, problem.category, problem.logged_by
    pattern = Pattern.of(problem)
    names = {"location": {location.pk: location.name} if location else {},
             "category": {category.pk: category.name} if category else {},
             "logged_by": {logged_by.pk: logged_by.display_name()} if logged_by else {}}
    data = {
        "id": problem.pk, "title": problem.title, "status": problem.status, "is_open": problem.is_open,
        "owner": problem.owner.username, "suspected_cause": problem.suspected_cause,
        "confirmed_cause": problem.confirmed_cause,
        "pattern": {
            "location": {"code": location.code, "name": location.name} if location else None,
            "region": problem.region,
            "category": {"id": category.pk, "name": category.name} if category else None,
            "busyness": problem.busyness, "channel": problem.channel,
            "logged_by": {"username": logged_by.username, "name": logged_by.display_name()} if logged_by else None,
            "weekday": problem.weekday, "hour_from": problem.hour_from, "hour_to": problem.hour_to,
        },
        "pattern_text": pattern.describe(names), "found_as": problem.found_as,
        "opened_at": _moment(problem.opened_at), "fixed_at": _moment(problem.fixed_at),
        "closed_at": _moment(problem.closed_at), "close_proposed_at": _moment(problem.close_proposed_at),
        "updated_at": _moment(problem.updated_at),
        "counts": {"incidents": problem.linked_count, "open_actions": problem.open_actions,
                   "overdue_actions": problem.overdue_actions},
        "version": problem.version, "url": reverse("api:problem-detail", args=[problem.pk]),
    }
    if with_verdict:
        found = verdict_of(problem, now=now)
        data["verdict"] = {"kind": found.kind, "text": found.text}
    return data


def problem_payload(event, event_type, now):
    """A `problem.*` webhook: the problem as it is now (without the verdict, which costs three counting
    queries) and the timeline entry that happened."""
    problem = problem_rows(now=now).get(pk=event.problem_id)
    actor = event.actor.username if event.actor_id else None
    return {
        "type": event_type, "created_at": event.at.isoformat(),
        "data": {"problem": represent(problem, now=now, with_verdict=False),
                 "event": {"kind": event.kind, "summary": event.summary, "actor": actor, "after": event.after}},
    }


class ActionSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username")
    done_by = serializers.CharField(source="done_by.username", allow_null=True, default=None)
    is_done = serializers.BooleanField()
    is_overdue = serializers.SerializerMethodField(help_text="Not done, and its due day has passed.")

    class Meta:
        model = CorrectiveAction
        fields = ["id", "description", "owner", "due_on", "is_done", "is_overdue", "done_at", "done_by", "created_at"]
        read_only_fields = fields

    def get_is_overdue(self, action) -> bool:
        today = self.context.get("today") or timezone.localdate()
        return action.is_overdue(today)
