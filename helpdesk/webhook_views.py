"""The API's webhooks: a client's endpoints, their delivery log, redelivery and secret rotation.

Only an API client has webhooks, and it sees only its own: another client's endpoint or delivery is
not found (404). The signing secret is in the answer to the create and to a rotation, never in a list
or a read. Each view parses, calls one service (`services.register_webhook`, `webhooks.*`), renders.
"""

import datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from django.utils import timezone
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.response import Response

from . import serializers as s
from . import webhooks
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import register_webhook
from .throttling import client_of
from .views import ERRORS, ApiView, Cursor, page_of

# --- Serializers -----------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="Until when the secret replaced by the last rotation still signs too; null when it no longer does.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at", "previous_secret_expires_at"]
        read_only_fields = fields

    def get_previous_secret_expires_at(self, endpoint) -> datetime.datetime | None:
        moment = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret or moment is None or moment <= timezone.now():
            return None
        return serializers.DateTimeField().to_representation(moment)


class WebhookWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs every delivery (Standard Webhooks: `whsec_` and base64). Shown this once: keep it.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookAttemptSerializer(serializers.ModelSerializer):
    status_code = serializers.IntegerField(read_only=True, allow_null=True,
                                           help_text="The receiver's HTTP status; null when no answer came (see error).")

    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, read_only=True,
                                     help_text="pending (to be sent, or retried at next_attempt_at), delivered, failed (gave up).")
    event_id = serializers.CharField(read_only=True, help_text="The webhook-id header and the payload's id.")
    attempts = WebhookAttemptSerializer(source="attempt_log", many=True, read_only=True,
                                        help_text="Every HTTP attempt, oldest first.")
    next_attempt_at = serializers.SerializerMethodField(help_text="When a pending delivery is sent next; null otherwise.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "created_at", "delivered_at", "next_attempt_at",
                  "last_status_code", "last_error", "attempts"]
        read_only_fields = fields

    def get_next_attempt_at(self, delivery) -> datetime.datetime | None:
        if delivery.status != WebhookDelivery.Status.PENDING:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class RotateSecretInput(s.StrictSerializer):
    overlap_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=int(webhooks.MAX_OVERLAP.total_seconds()),
        default=int(webhooks.DEFAULT_OVERLAP.total_seconds()),
        help_text="How long the secret being replaced goes on signing too (default a day, at most a week); 0 stops it at once.",
    )


class DeliveryFilter(s.StrictSerializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.CharField(required=False)


class DeliveryCursor(Cursor):
    ordering = "-id"


# --- Views -----------------------------------------------------------------------------------------

SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4PTIB6zp0Gk="
ENDPOINT_EXAMPLE = {"id": 7, "url": "https://helpdesk.example.com/hooks/recovery", "events": ["incident.closed"],
                    "active": True, "created_at": "2026-03-04T14:00:00Z", "previous_secret_expires_at": None}
DELIVERY_EXAMPLE = {
    "id": 311, "event_id": "evt_5821", "event_type": "step.recorded", "status": "delivered",
    "created_at": "2026-03-04T14:03:10Z", "delivered_at": "2026-03-04T14:03:41Z", "next_attempt_at": None,
    "last_status_code": 200, "last_error": "",
    "attempts": [{"at": "2026-03-04T14:03:10Z", "status_code": 503, "error": "HTTP 503", "duration_ms": 41},
                 {"at": "2026-03-04T14:03:41Z", "status_code": 200, "error": "", "duration_ms": 38}],
}
PAGE_EXAMPLE = {"next": "/api/v1/webhooks/7/deliveries/?cursor=cD0zMTE%3D", "previous": None, "results": [DELIVERY_EXAMPLE]}


class StillPending(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ClientOnly:
    """Webhooks belong to an API client; members of staff have none."""

    def client(self):
        client = client_of(self.request.user)
        if client is None:
            raise PermissionDenied("Webhooks belong to an API client; sign in with its token.")
        return client

    def endpoint(self, pk):
        return get_object_or_404(self.client().webhooks, pk=pk)


class WebhookList(ClientOnly, ApiView):
    @extend_schema(
        summary="List your webhook URLs", operation_id="webhooks_list",
        description="Your API client's webhook endpoints. The signing secret is not shown here: it is in the answer "
                    "to the registration and to each rotation only.",
        responses={200: WebhookEndpointSerializer(many=True), **ERRORS},
        examples=[OpenApiExample("One endpoint", response_only=True, value=[ENDPOINT_EXAMPLE])],
    )
    def get(self, request):
        return Response(WebhookEndpointSerializer(self.client().webhooks.all(), many=True).data)

    @extend_schema(
        summary="Register a webhook URL",
        description="Events are POSTed to the URL, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
                    "`webhook-signature`). The answer carries the `secret` that signs them, this once: keep it.",
        request=s.WebhookInput, responses={201: WebhookWithSecretSerializer, **ERRORS},
        examples=[
            OpenApiExample("Closed incidents", request_only=True,
                           value={"url": "https://helpdesk.example.com/hooks/recovery", "events": ["incident.closed"]}),
            OpenApiExample("Registered", response_only=True, status_codes=["201"],
                           value={**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE}),
        ],
    )
    def post(self, request):
        client = self.client()
        data = self.parse(s.WebhookInput)
        endpoint = register_webhook(client=client, url=data["url"], events=data["events"])
        return Response(WebhookWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetail(ClientOnly, ApiView):
    @extend_schema(
        summary="Read a webhook URL", description="One of your endpoints, without its secret.",
        responses={200: WebhookEndpointSerializer, **ERRORS},
        examples=[OpenApiExample("An endpoint", response_only=True, value=ENDPOINT_EXAMPLE)],
    )
    def get(self, request, pk):
        return Response(WebhookEndpointSerializer(self.endpoint(pk)).data)

    @extend_schema(summary="Remove a webhook URL", description="Stops all deliveries to it and forgets their log.",
                   responses={204: None, **ERRORS})
    def delete(self, request, pk):
        self.endpoint(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryList(ClientOnly, ApiView):
    @extend_schema(
        summary="The delivery log of a webhook URL", operation_id="webhooks_deliveries_list",
        description="Deliveries to this endpoint, newest first, each with every attempt: when, the receiver's HTTP "
                    "status (or the error when none came) and how long it took. Cursor pages: follow `next`.",
        parameters=[
            OpenApiParameter("status", str, enum=WebhookDelivery.Status.values, description="Only deliveries in this state."),
            OpenApiParameter("cursor", str, description="From `next` or `previous` of a page."),
            OpenApiParameter("page_size", int, description="Rows per page, 1 to 200 (default 50)."),
        ],
        responses={200: page_of(WebhookDeliverySerializer, "WebhookDeliveryPage"), **ERRORS},
        examples=[OpenApiExample("A page", response_only=True, value=PAGE_EXAMPLE)],
    )
    def get(self, request, pk):
        endpoint = self.endpoint(pk)
        query = DeliveryFilter(data=request.query_params.dict())
        if not query.is_valid():
            raise ValidationError(query.errors)
        rows = endpoint.deliveries.prefetch_related("attempt_log")
        if "status" in query.validated_data:
            rows = rows.filter(status=query.validated_data["status"])
        paginator = DeliveryCursor()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookRedeliver(ClientOnly, ApiView):
    @extend_schema(
        summary="Send a delivery again",
        description="Sends a delivered or given-up delivery again, now, with the same `webhook-id` (a receiver that "
                    "handled it drops the repeat) and a full set of retries. A pending delivery is already on its way: "
                    "409, with its next attempt in the message.",
        request=None, responses={202: WebhookDeliverySerializer, **ERRORS},
        examples=[OpenApiExample("Queued again", response_only=True, status_codes=["202"],
                                 value={**DELIVERY_EXAMPLE, "status": "pending", "delivered_at": None,
                                        "next_attempt_at": "2026-03-04T15:00:00Z"})],
    )
    def post(self, request, pk, delivery_pk):
        delivery = get_object_or_404(self.endpoint(pk).deliveries, pk=delivery_pk)
        try:
            delivery = webhooks.redeliver(delivery)
        except webhooks.NotRedeliverable:
            raise StillPending(f"Delivery {delivery.pk} is still pending; its next attempt is at "
                                f"{delivery.next_attempt_at.isoformat()}.") from None
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookRotateSecret(ClientOnly, ApiView):
    @extend_schema(
        summary="Rotate the signing secret",
        description="Makes a new secret and returns it, this once. For `overlap_seconds` (default a day) the secret it "
                    "replaces signs too: each delivery then carries two signatures in `webhook-signature`, "
                    "space-separated, so your receiver can switch at its own moment. Rotating again during an overlap "
                    "replaces the new secret only: the secret from before the overlap keeps signing until it ends "
                    "(so a retried rotation cannot lock out the secret your receiver has). `overlap_seconds: 0` stops "
                    "every older secret at once, e.g. after a leak.",
        request=RotateSecretInput, responses={200: WebhookWithSecretSerializer, **ERRORS},
        examples=[
            OpenApiExample("An hour's overlap", request_only=True, value={"overlap_seconds": 3600}),
            OpenApiExample("Rotated", response_only=True, status_codes=["200"],
                           value={**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE,
                                  "previous_secret_expires_at": "2026-03-04T15:00:00Z"}),
        ],
    )
    def post(self, request, pk):
        endpoint = self.endpoint(pk)
        overlap = datetime.timedelta(seconds=self.parse(RotateSecretInput)["overlap_seconds"])
        return Response(WebhookWithSecretSerializer(webhooks.rotate_secret(endpoint, overlap=overlap)).data)
