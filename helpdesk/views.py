"""The helpdesk API. Each view parses, calls one service or selector, and renders.

Domain errors become JSON in `errors.exception_handler`; safe retries live in `idempotency`.
"""

import base64
import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as fields
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import services
from incidents.models import Customer, Gesture, Incident, Stage, late_condition
from incidents.selectors import timeline
from incidents.validators import validate_in_range

from . import idempotency, serializers as s
from rest_framework.authentication import SessionAuthentication

from rest_framework.permissions import IsAuthenticated

from .authentication import ClientTokenAuthentication, TokenScope
from .errors import InvalidCursor, PayloadTooLarge
from .services import (
    create_incident,
    customers_for,
    incident_rows,
    incidents_for,
    reassign_if_as_seen,
    register_webhook,
)
from .throttling import client_of, headers_for

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}


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
        if length > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes.")
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
    stage = filters.ChoiceFilter(choices=Stage.choices)
    open = filters.BooleanFilter(method="filter_open", help_text="true: not closed; false: closed.")
    overdue = filters.BooleanFilter(
        method="filter_overdue", help_text="true: open, no fix or follow-up yet, and the twenty-minute window passed."
    )
    location = filters.CharFilter(field_name="location__code", help_text="Location code.")
    owner = filters.CharFilter(field_name="owner__username", help_text="Owner's username.")
    external_id = filters.CharFilter(help_text="The helpdesk ticket id.")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", validators=[validate_in_range])

    class Meta:
        model = Incident
        fields = []

    def filter_open(self, queryset, name, value):
        return queryset.filter(closed_at__isnull=value)

    def filter_overdue(self, queryset, name, value):
        late = late_condition(timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-logged_at"

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model  # the cursor's position is checked against its ordering field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """The cursor, or 400: one that is not ours, or whose position is not a value of the field the
        page is ordered by (a date for logged_at, a number for id), never reaches the query."""
        try:
            # DRF's decoding skips characters that are not base64, so "!!!" read as the first page.
            base64.b64decode(request.query_params.get(self.cursor_query_param, "").encode("ascii"), validate=True)
            cursor = super().decode_cursor(request)
        except (NotFound, ValueError):  # binascii.Error and UnicodeEncodeError are ValueErrors
            raise InvalidCursor() from None
        if cursor is None or cursor.position is None:
            return cursor
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            position = field.to_python(cursor.position)
            if isinstance(position, (int, float)):
                field.run_validators(position)  # within the column's range
            else:
                validate_in_range(position)
        except (ValidationError, TypeError, ValueError, OverflowError):
            raise InvalidCursor() from None
        return cursor


class IncidentList(ApiView):
    queryset = Incident.objects.none()  # tells the schema which model the filters read
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = IncidentFilter
    ordering_fields = ["logged_at", "updated_at", "id"]
    pagination_class = Cursor

    @extend_schema(
        summary="List incidents", operation_id="incidents_list", responses={200: page_of(s.IncidentSerializer, "IncidentPage"), **ERRORS},
        parameters=[OpenApiParameter("ordering", str, enum=["logged_at", "-logged_at", "updated_at", "-updated_at", "id", "-id"])],
    )
    def get(self, request):
        rows = incident_rows().filter(pk__in=incidents_for(request.user).values("pk"))
        for backend in self.filter_backends:
            rows = backend().filter_queryset(request, rows, self)
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
        return render_incident(get_object_or_404(incident_rows().filter(pk__in=incidents_for(request.user).values("pk")), pk=pk))

    @extend_schema(
        summary="Reassign an incident",
        request=s.IncidentPatchInput, responses={200: s.IncidentSerializer, 412: s.ErrorSerializer, **ERRORS},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                                     description="The ETag you read; a stale one answers 412 and changes nothing.")],
    )
    def patch(self, request, pk):
        incident = self.incident(pk)  # someone else's incident is not found, whatever the body says
        data = self.parse(s.IncidentPatchInput)
        if_match = request.headers.get("If-Match")

        def as_seen(row):  # If-Match: the change applies only to the version the caller saw
            return not if_match or if_match == "*" or etag_of(s.IncidentSerializer(row).data) in _etags(if_match)

        reassign_if_as_seen(incident, by=request.user, owner=data["owner"], as_seen=as_seen)
        return render_incident(incident_rows().get(pk=pk))


def _etags(header):
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


class Timeline(ApiView):
    @extend_schema(summary="The incident's timeline, oldest first", responses={200: s.EventSerializer(many=True), **ERRORS})
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


# --- Customers ---------------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")
    external_id = filters.CharFilter()

    class Meta:
        model = Customer
        fields = []


class CustomerCursor(Cursor):
    ordering = "id"


class CustomerList(ApiView):
    queryset = Customer.objects.none()
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CustomerFilter

    @extend_schema(summary="Find customers by email or external id", operation_id="customers_list", responses={200: page_of(s.CustomerSerializer, "CustomerPage"), **ERRORS})
    def get(self, request):
        rows = filters.DjangoFilterBackend().filter_queryset(request, customers_for(request.user), self)
        paginator = CustomerCursor()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.CustomerSerializer(page, many=True).data)


class CustomerDetail(ApiView):
    @extend_schema(summary="Read a customer, with the care flag and recent incidents",
                   responses={200: s.CustomerSerializer, **ERRORS})
    def get(self, request, pk):
        customer = get_object_or_404(customers_for(request.user), pk=pk)
        recent = incidents_for(request.user).filter(customer=customer).order_by("-logged_at")[:10]
        return Response(s.CustomerSerializer(customer, context={"recent_incidents": list(recent)}).data)


# --- Webhooks ---------------------------------------------------------------------------------


class ClientOnly:
    """Webhooks belong to an API client; members of staff have none."""

    def client(self):
        client = client_of(self.request.user)
        if client is None:
            raise PermissionDenied("Webhooks belong to an API client; sign in with its token.")
        return client


class WebhookList(ClientOnly, ApiView):
    @extend_schema(summary="List your webhook URLs", responses={200: s.WebhookSerializer(many=True), **ERRORS})
    def get(self, request):
        return Response(s.WebhookSerializer(self.client().webhooks.all(), many=True).data)

    @extend_schema(
        summary="Register a webhook URL", request=s.WebhookInput, responses={201: s.WebhookSerializer, **ERRORS},
        examples=[OpenApiExample("Closed incidents", request_only=True,
                                 value={"url": "https://helpdesk.example.com/hooks/recovery", "events": ["incident.closed"]})],
    )
    def post(self, request):
        client = self.client()
        data = self.parse(s.WebhookInput)
        endpoint = register_webhook(client=client, url=data["url"], events=data["events"])
        return Response(s.WebhookSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetail(ClientOnly, ApiView):
    @extend_schema(summary="Remove a webhook URL", responses={204: None, **ERRORS})
    def delete(self, request, pk):
        get_object_or_404(self.client().webhooks, pk=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other address under /api/v1/ answers 404 in the API's error shape, not an HTML page."""
    from django.http import JsonResponse

    from .errors import error_body

    return JsonResponse(error_body("not_found", "No such address in the API."), status=404)
