"""The helpdesk API. Each view parses, calls one service or selector, and renders.

Domain errors become JSON in `errors.exception_handler`; safe retries live in `idempotency`.
"""

import hashlib
import json

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as fields
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import services
from incidents.models import Customer, Gesture, Incident, Stage, late_condition
from incidents.selectors import search_condition, timeline
from incidents.validators import validate_in_range

from . import idempotency, serializers as s
from rest_framework.authentication import SessionAuthentication

from rest_framework.permissions import IsAuthenticated

from .authentication import ClientTokenAuthentication, TokenScope
from .errors import PROBLEM_CONTENT_TYPE, PayloadTooLarge
from .filtering import Cursor, OrderingWithId, cursor_ordered_by, filter_rows, list_parameters, yes_no_filter
from .services import (
    create_incident,
    customers_for,
    decide_gesture_as,
    incident_rows,
    incidents_for,
    locations_for,
    staff_for,
    update_if_as_seen,
)
from .throttling import headers_for

def problems(*codes):
    """Error answers for the schema: problem documents, as application/problem+json."""
    return {(code, PROBLEM_CONTENT_TYPE): s.ErrorSerializer for code in codes}


ERRORS = problems(400, 401, 403, 404, 409, 413, 422, 429, 503)


def page_of(item_serializer, name):
    """The cursor page: links to the next and previous pages (null at either end) and the rows."""
    return inline_serializer(name, fields={
        "next": fields.URLField(allow_null=True), "previous": fields.URLField(allow_null=True),
        "results": item_serializer(many=True),
    })


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID). A repeat with the same key and body returns the first answer.",
)


class ApiView(APIView):
    authentication_classes = [ClientTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, TokenScope]
    max_body_bytes = None  # settings.API_MAX_BODY_BYTES; an upload's view allows its files

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer to a counted caller says where it stands against its rate limit (`throttling`)."""
        for header, value in headers_for(request).items():
            response[header] = value
        return super().finalize_response(request, response, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.max_body_bytes or settings.API_MAX_BODY_BYTES
        if length > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        super().initial(request, *args, **kwargs)

    def answer(self, produce):
        """Run `produce` with domain errors turned into JSON answers, so a retry can replay them."""
        def guarded():
            try:
                return produce()
            except Exception as error:  # handle_exception re-raises anything it does not map
                return self.handle_exception(error)
        return idempotency.once(self.request, guarded)

    def incident(self, pk):
        return get_object_or_404(incidents_for(self.request.user), pk=pk)

    def parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def with_etag(response, data):
    response["ETag"] = etag_of(data)
    return response


def etag_of(data):
    body = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def render_incident(incident, **kwargs):
    data = s.IncidentSerializer(incident).data
    return with_etag(Response(data, **kwargs), data)


# --- Incidents -----------------------------------------------------------------------------------


class IncidentFilter(filters.FilterSet):
    stage = filters.ChoiceFilter(choices=Stage.choices, help_text="Where the recovery stands.")
    open = yes_no_filter("true: not closed; false: closed.", method="filter_open")
    overdue = yes_no_filter("true: open, no fix or follow-up yet, and the twenty-minute window passed; false: the others.",
                            method="filter_overdue")
    location = filters.CharFilter(method="filter_location", help_text="A location code (GET /api/v1/locations/).")
    owner = filters.CharFilter(method="filter_owner", help_text="The owner's username (GET /api/v1/staff/).")
    external_id = filters.CharFilter(help_text="The helpdesk ticket id.")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", validators=[validate_in_range],
                                              help_text="Changed at or after this moment (ISO 8601): to sync what changed.")
    q = filters.CharFilter(method="filter_search", max_length=200,
                           help_text="Search: a reference typed exactly, or words (each the start of a word) found in "
                                     "the customer's name or email, the summary or the notes of the steps.")

    class Meta:
        model = Incident
        fields = []

    def filter_search(self, queryset, name, value):
        # The page's search condition (incidents.selectors); the list keeps its own order and cursor.
        condition = search_condition(value)
        return queryset.filter(condition) if condition is not None else queryset.none()

    def filter_open(self, queryset, name, value):
        return queryset.filter(closed_at__isnull=value)

    def filter_overdue(self, queryset, name, value):
        late = late_condition(timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)

    # The location and the owner are read first and the list asks for their ids: a condition on the
    # incident's own column is one the (location, logged_at, id) index serves, a join on the code is not.
    def filter_location(self, queryset, name, value):
        location = locations_for(self.request.user).filter(code=value).values_list("pk", flat=True).first()
        if location is None:
            raise ValidationError({"location": [f"No location with the code '{value}'."]})
        return queryset.filter(location_id=location)

    def filter_owner(self, queryset, name, value):
        owner = staff_for(self.request.user, everyone=True).filter(username=value).values_list("pk", flat=True).first()
        if owner is None:
            raise ValidationError({"owner": [f"No staff with the username '{value}'."]})
        return queryset.filter(owner_id=owner)


def caller_incidents(user):
    """The caller's incidents with what their representation shows. The organization (and a member of
    staff's locations and own rows) is a condition of this query itself, not `pk__in` a subquery of
    visible ids: only then can PostgreSQL read a page from the (organization, logged_at, id) index and
    stop, instead of sorting every incident of every organization on each page."""
    return incident_rows() & incidents_for(user)


class IncidentList(ApiView):
    filter_backends = [OrderingWithId]  # read by the cursor page for its order
    filterset_class = IncidentFilter
    ordering_fields = ["logged_at", "updated_at", "id"]
    ordering = ["-logged_at"]
    pagination_class = Cursor

    @extend_schema(
        summary="List incidents", operation_id="incidents_list",
        description="Newest first by default. Filters combine; an unknown filter value or parameter answers 400.",
        responses={200: page_of(s.IncidentSerializer, "IncidentPage"), **ERRORS},
        parameters=list_parameters(IncidentFilter, ordering_fields),
    )
    def get(self, request):
        rows = filter_rows(request, caller_incidents(request.user), self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.IncidentSerializer(page, many=True).data)

    @extend_schema(
        summary="Create an incident from a ticket",
        request=s.IncidentCreateInput,
        responses={201: s.IncidentSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("A cold meal", request_only=True, value={
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"}, "summary": "Soup arrived cold",
            "channel": "in_person", "category": "Kitchen", "location": "riverside", "external_id": "HD-1042",
        })],
    )
    def post(self, request):
        def create():
            incident = create_incident(by=request.user, **self.parse(s.IncidentCreateInput))
            # Rendered from the rows in hand (customer, location, category, owner): no second read.
            response = render_incident(incident, status=status.HTTP_201_CREATED)
            response["Location"] = f"/api/v1/incidents/{incident.pk}/"
            return response
        return self.answer(create)


class IncidentDetail(ApiView):
    @extend_schema(summary="Read one incident", responses={200: s.IncidentSerializer, **ERRORS})
    def get(self, request, pk):
        return render_incident(get_object_or_404(caller_incidents(request.user), pk=pk))

    @extend_schema(
        summary="Change an incident's details or owner",
        description="Send only the fields that changed in the helpdesk. Each change is written on the incident's "
                    "timeline. With If-Match (the ETag you read), a change made meanwhile answers 412 and nothing "
                    "is changed.",
        request=s.IncidentPatchInput, responses={200: s.IncidentSerializer, **problems(412), **ERRORS},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                                     description="The ETag you read; a stale one answers 412 and changes nothing.")],
        examples=[OpenApiExample("A ticket's priority went up", request_only=True, value={"severity": "high"})],
    )
    def patch(self, request, pk):
        incident = self.incident(pk)  # someone else's incident is not found, whatever the body says
        if_match = request.headers.get("If-Match")

        def as_seen(row):  # If-Match: the change applies only to the version the caller saw
            return not if_match or if_match == "*" or etag_of(s.IncidentSerializer(row).data) in _etags(if_match)

        def change():
            update_if_as_seen(incident, by=request.user, as_seen=as_seen, **self.parse(s.IncidentPatchInput))
            return render_incident(incident_rows().get(pk=pk))
        return self.answer(change)


def _etags(header):
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


class Timeline(ApiView):
    @extend_schema(summary="The incident's timeline, oldest first", operation_id="incidents_timeline_list", responses={200: s.EventSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        return Response(s.EventSerializer(timeline(self.incident(pk)), many=True).data)


# --- Steps -------------------------------------------------------------------------------------


def _record(row, skip=("id", "incident")):
    values = {}
    for field in row._meta.concrete_fields:
        if field.name in skip:
            continue
        value = getattr(row, field.attname)
        if field.is_relation:
            related = getattr(row, field.name)
            value = getattr(related, "username", value) if related is not None else None
        values[field.name] = value
    return values


class StepView(ApiView):
    """POST one step of the recovery. Out of order answers 409 saying which step comes first."""

    step = ""
    input_class = None
    service = None

    def post(self, request, pk):
        def record():
            incident = self.incident(pk)
            data = dict(self.parse(self.input_class))
            row = self.record(incident, data)
            answer = {"step": self.step, "version": getattr(row, "version", None), "record": _record(row)}
            answer.update(self.extra(incident, row, data))
            answer["incident"] = s.IncidentSerializer(incident_rows().get(pk=incident.pk)).data
            created = getattr(row, "version", 1) == 1
            response = Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
            return with_etag(response, answer["incident"])
        return self.answer(record)

    def record(self, incident, data):
        return type(self).service(incident, by=self.request.user, **data)

    def extra(self, incident, row, data):
        return {}


def step_schema(input_class, summary, example):
    return extend_schema(
        summary=summary, request=input_class, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.StepAnswer, 200: s.StepAnswer, **ERRORS},
        examples=[OpenApiExample(summary, request_only=True, value=example)],
    )


class ApologyView(StepView):
    step, input_class, service = "apology", s.ApologyInput, services.record_apology

    @step_schema(s.ApologyInput, "Record the apology (step 1)", {
        "channel": "in_person", "text": "I'm so sorry, that should never have happened.", "customer_accepted": True})
    def post(self, request, pk):
        return super().post(request, pk)

    def extra(self, incident, row, data):
        return {"coach_flags": [{key: flag[key] for key in ("text", "kind", "suggestion")} for flag in row.coach_flags]}


class ReviewView(StepView):
    step, input_class, service = "review", s.ReviewInput, services.record_review

    @step_schema(s.ReviewInput, "Record the review (step 2)", {
        "customer_account": "Waited 40 minutes, then the soup came cold.", "customer_needs": "A hot meal before the show."})
    def post(self, request, pk):
        return super().post(request, pk)


class FixView(StepView):
    step, input_class, service = "fix", s.FixInput, services.record_fix

    @step_schema(s.FixInput, "Record the fix, with an optional gesture (step 3)", {
        "description": "Fresh soup served", "fixed": True,
        "gesture": {"kind": "gift", "description": "Dessert on the house", "cost": "8.00"}})
    def post(self, request, pk):
        return super().post(request, pk)

    def record(self, incident, data):
        gesture = data.pop("gesture", None)
        return services.record_fix(incident, by=self.request.user, gesture=dict(gesture) if gesture else None, **data)

    def extra(self, incident, row, data):
        if not self.request.data.get("gesture"):
            return {}
        gesture = Gesture.objects.filter(incident=incident).order_by("-id").first()
        return {"gesture": {
            "id": gesture.pk, "kind": gesture.kind, "cost": str(gesture.cost), "currency": gesture.currency,
            "approval": gesture.approval, "waits_for_approval": gesture.approval == Gesture.Approval.PENDING,
        }}


class FollowUpView(StepView):
    step, input_class, service = "follow_up", s.FollowUpInput, services.record_follow_up

    @step_schema(s.FollowUpInput, "Record a follow-up", {
        "kind": "wrap_up", "channel": "email", "note": "Thanked her and invited her back."})
    def post(self, request, pk):
        return super().post(request, pk)


class DepositionView(StepView):
    step, input_class, service = "deposition", s.DepositionInput, services.record_deposition

    @step_schema(s.DepositionInput, "Record the deposition (step 4)", {
        "root_cause": "Pass left unattended", "circumstances": "Before a show", "busyness": "peak"})
    def post(self, request, pk):
        return super().post(request, pk)


class OutcomeView(StepView):
    step, input_class, service = "outcome", s.OutcomeInput, services.record_outcome

    @step_schema(s.OutcomeInput, "Record the outcome and close", {"outcome": "champion", "satisfaction": 5})
    def post(self, request, pk):
        return super().post(request, pk)


# --- Gestures and helpers --------------------------------------------------------------------------


class GestureList(ApiView):
    @extend_schema(summary="The incident's gestures, with whether each waits for a manager", operation_id="incidents_gestures_list",
                   responses={200: s.GestureSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        gestures = self.incident(pk).gestures.select_related("given_by", "decided_by").order_by("given_at", "id")
        return Response(s.GestureSerializer(gestures, many=True).data)


class GestureDecision(ApiView):
    """POST approves (or refuses) a gesture that went over its giver's budget."""

    approve = True

    def post(self, request, pk, gesture_id):
        def decide():
            gesture = get_object_or_404(Gesture.objects.filter(incident=self.incident(pk)), pk=gesture_id)
            decided = decide_gesture_as(gesture, by=request.user, approve=self.approve,
                                        **self.parse(s.GestureDecisionInput))
            return Response(s.GestureSerializer(decided).data)
        return self.answer(decide)


def decision_schema(verb):
    return extend_schema(
        summary=f"{verb.title()} a gesture waiting for a manager",
        description="The same rule as the managers' console: the decider is a manager over the incident's "
                    "location. From a helpdesk's token, name the manager who decided there (`manager`); they are "
                    "recorded as the decider. A gesture already decided answers 409.",
        request=s.GestureDecisionInput, responses={200: s.GestureSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample(f"{verb.title()}d by a manager in the helpdesk", request_only=True, value={"manager": "maria"})],
    )


class GestureApproval(GestureDecision):
    approve = True

    @decision_schema("approve")
    def post(self, request, pk, gesture_id):
        return super().post(request, pk, gesture_id)


class GestureRefusal(GestureDecision):
    approve = False

    @decision_schema("refuse")
    def post(self, request, pk, gesture_id):
        return super().post(request, pk, gesture_id)


class HelperList(ApiView):
    @extend_schema(summary="Who helps the owner on this recovery", operation_id="incidents_helpers_list", responses={200: s.HelperSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        return Response(s.HelperSerializer(self.incident(pk).helpers.order_by("username"), many=True).data)

    @extend_schema(
        summary="Bring someone in to help (a swarm)", description="A manager's or the helpdesk's call. Adding "
        "someone already helping, or the owner, changes nothing.",
        request=s.HelperInput, responses={200: s.HelperSerializer(many=True), **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("Bring in the duty manager", request_only=True, value={"username": "maria"})],
    )
    def post(self, request, pk):
        def add():
            incident = self.incident(pk)
            username = self.parse(s.HelperInput)["username"]
            helper = services.staff_named(incident.organization_id, username, field="username")
            incident = services.add_helper(incident, by=request.user, helper=helper)
            return Response(s.HelperSerializer(incident.helpers.order_by("username"), many=True).data)
        return self.answer(add)


class HelperDetail(ApiView):
    @extend_schema(summary="Let a helper go back to their own work",
                   description="A manager's or the helpdesk's call. Someone not helping: nothing changes.",
                   responses={204: None, **ERRORS})
    def delete(self, request, pk, username):
        def remove():
            incident = self.incident(pk)
            helper = services.staff_named(incident.organization_id, username, field="username")
            services.remove_helper(incident, by=request.user, helper=helper)
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.answer(remove)


# --- Customers ---------------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", help_text="The customer's email, in any case.")
    external_id = filters.CharFilter(help_text="The customer's id in the helpdesk (or another system).")

    class Meta:
        model = Customer
        fields = []


class CustomerList(ApiView):
    filterset_class = CustomerFilter

    @extend_schema(summary="Find customers by email or external id", operation_id="customers_list",
                   parameters=list_parameters(CustomerFilter),
                   responses={200: page_of(s.CustomerSerializer, "CustomerPage"), **ERRORS})
    def get(self, request):
        rows = filter_rows(request, customers_for(request.user), self)
        paginator = cursor_ordered_by("id")()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.CustomerSerializer(page, many=True).data)


def render_customer(request, customer):
    recent = incidents_for(request.user).filter(customer=customer).order_by("-logged_at")[:10]
    return Response(s.CustomerSerializer(customer, context={"recent_incidents": list(recent)}).data)


class OneCustomer(ApiView):
    def customer(self, pk):
        return get_object_or_404(customers_for(self.request.user), pk=pk)


class CustomerDetail(OneCustomer):
    @extend_schema(summary="Read a customer, with the care flag and recent incidents",
                   responses={200: s.CustomerSerializer, **ERRORS})
    def get(self, request, pk):
        return render_customer(request, self.customer(pk))

    @extend_schema(summary="Set a customer's lifetime value",
                   description="What the customer is worth over time, in the organization's currency: the figure "
                               "the managers' \"value kept\" adds up. A manager's or the helpdesk's call.",
                   request=s.CustomerPatchInput, responses={200: s.CustomerSerializer, **ERRORS},
                   examples=[OpenApiExample("A regular", request_only=True, value={"lifetime_value": "2400.00"})])
    def patch(self, request, pk):
        def change():
            customer = services.set_lifetime_value(self.customer(pk), by=request.user, **self.parse(s.CustomerPatchInput))
            return render_customer(request, customer)
        return self.answer(change)


class CareFlag(OneCustomer):
    @extend_schema(summary="Flag the customer's file for special care",
                   description="The next person who serves them sees the note. Logging an incident flags it too.",
                   request=s.CareFlagInput, responses={200: s.CustomerSerializer, **ERRORS},
                   examples=[OpenApiExample("After a bad night", request_only=True,
                                            value={"note": "Waited an hour for a cold meal; greet her by name."})])
    def post(self, request, pk):
        def flag():
            customer = services.flag_customer(self.customer(pk), by=request.user, **self.parse(s.CareFlagInput))
            return render_customer(request, customer)
        return self.answer(flag)

    @extend_schema(summary="Clear the care flag: the customer has been served with care since",
                   responses={200: s.CustomerSerializer, **ERRORS})
    def delete(self, request, pk):
        def clear():
            return render_customer(request, services.clear_care_flag(self.customer(pk), by=request.user))
        return self.answer(clear)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other address under /api/v1/ answers 404 in the API's error shape, not an HTML page."""
    from django.http import JsonResponse

    from .errors import PROBLEM_CONTENT_TYPE, error_body

    return JsonResponse(error_body("not_found", "No such address in the API.", status=404), status=404,
                        content_type=PROBLEM_CONTENT_TYPE)


def problem_types(request, code=None):
    """Where each problem document's `type` points: what that kind of problem means (docs/api.md lists them too)."""
    from django.http import JsonResponse

    from .errors import PROBLEMS, error_body, problem_type

    def described(name):
        title, description = PROBLEMS[name]
        return {"type": problem_type(name), "title": title, "description": description}

    if code is None:
        return JsonResponse({"problems": [described(name) for name in PROBLEMS]})
    if code not in PROBLEMS:
        return JsonResponse(error_body("not_found", "No such problem type.", status=404), status=404,
                            content_type=PROBLEM_CONTENT_TYPE)
    return JsonResponse(described(code))
