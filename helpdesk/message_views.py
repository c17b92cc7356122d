"""What the customer hears from us, over the API: an incident's messages (progress reports, the
wrap-up note, the satisfaction check, thanks), drafting and sending one, and the customer's answer to
the satisfaction check. The rules are outreach's; these views parse, call and render."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from incidents import services
from outreach import services as outreach
from outreach.models import Message, SurveyAnswer

from .serializers import StrictSerializer, line, moment_field, text
from .views import ERRORS, IDEMPOTENCY_PARAMETER, ApiView

# The kinds a caller writes; satisfaction checks are Recovery's own, sent a while after the wrap-up.
WRITTEN_KINDS = [Message.Kind.PROGRESS_REPORT, Message.Kind.WRAP_UP, Message.Kind.THANK_YOU]


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None,
                                   help_text="Who wrote and sent it; the customer's replies go to them.")

    class Meta:
        model = Message
        fields = ["id", "kind", "channel", "to", "subject", "body", "author", "status", "status_note",
                  "scheduled_for", "sent_at", "attempts", "created_at"]
        read_only_fields = fields


class MessageInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in WRITTEN_KINDS])
    body = text(help_text="The text as the customer will read it, from the person who sends it.")
    subject = line(200, required=False, allow_blank=True, help_text="Email only; a subject is made when empty.")
    channel = serializers.ChoiceField(choices=Message.Channel.choices, required=False,
                                      help_text="Defaults to the customer's preference and the addresses we have.")
    send = serializers.BooleanField(required=False, default=False,
                                    help_text="true: send it (now, or at `at`); false: keep it as a draft.")
    at = moment_field(required=False, help_text="When to send; never at night on the location's clock (it waits for the morning).")


class SendInput(StrictSerializer):
    at = moment_field(required=False, help_text="When to send; defaults to now, out of the location's quiet hours.")


class SurveyAnswerSerializer(serializers.ModelSerializer):
    customer_outcome = serializers.CharField(source="incident.customer_outcome", read_only=True,
                                             help_text="The outcome the answer confirms: champion, retained, partial or lost.")

    class Meta:
        model = SurveyAnswer
        fields = ["feeling", "would_recommend", "suggestion", "customer_outcome", "answered_at", "changed_at"]
        read_only_fields = fields


def _require_on_the_recovery(by, incident):
    # The people on the recovery, its managers and the helpdesk write to its customer.
    if not services.may_change_details(by, incident):
        raise services.NotAllowed("Only the people on this recovery and its managers write to its customer.")


def outreach_messages(incident):
    return incident.messages.select_related("author").order_by("created_at", "id")


class MessageList(ApiView):
    @extend_schema(summary="The messages to the incident's customer", operation_id="incidents_messages_list",
                   description="Oldest first, with each one's status: draft, scheduled, sending, sent, failed, "
                               "bounced, not_sent (with the reason in status_note).",
                   responses={200: MessageSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        return Response(MessageSerializer(outreach_messages(self.incident(pk)), many=True).data)

    @extend_schema(
        summary="Write a message to the customer, as a draft or sent",
        description="Sent in the sender's name, Reply-To them. A progress report or a wrap-up note sent is recorded "
                    "as that follow-up too. A customer who opted out, or has no address for the channel, is not "
                    "messaged: a progress report or wrap-up answers 400 (record a call instead), a thank-you is kept "
                    "with status not_sent and the reason.",
        request=MessageInput, responses={201: MessageSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("A wrap-up note, sent", request_only=True, value={
            "kind": "wrap_up", "body": "Thank you for giving us another chance, Ada. See you soon. Maria", "send": True})],
    )
    def post(self, request, pk):
        def write():
            incident = self.incident(pk)
            _require_on_the_recovery(request.user, incident)
            data = self.parse(MessageInput)
            send, at = data.pop("send"), data.pop("at", None)
            message = outreach.draft_message(incident, author=request.user, **data)
            if send:
                message = outreach.send_draft(message, by=request.user, at=at)
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        return self.answer(write)


class MessageSend(ApiView):
    @extend_schema(summary="Send a drafted message", operation_id="incidents_messages_send_create",
                   description="A draft (a progress report Recovery drafted this morning, say) goes now or at `at`, "
                               "recorded as its follow-up like one sent from the incident page. A message already sent "
                               "answers 400.",
                   request=SendInput, responses={200: MessageSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, request, pk, message_id):
        def send():
            incident = self.incident(pk)
            message = get_object_or_404(incident.messages, pk=message_id)
            _require_on_the_recovery(request.user, incident)
            sent = outreach.send_draft(message, by=request.user, at=self.parse(SendInput).get("at"))
            return Response(MessageSerializer(sent).data)
        return self.answer(send)


class SurveyAnswerView(ApiView):
    @extend_schema(summary="The customer's answer to the satisfaction check", operation_id="incidents_survey_retrieve",
                   description="How they feel about the business now (1–5), whether they would come back and recommend "
                               "it (0–10), their suggestion, and the outcome it confirms. 404 until they answer.",
                   responses={200: SurveyAnswerSerializer, **ERRORS})
    def get(self, request, pk):
        answer = SurveyAnswer.objects.select_related("incident").filter(incident=self.incident(pk)).first()
        if answer is None:
            raise NotFound("The customer has not answered the satisfaction check.")
        return Response(SurveyAnswerSerializer(answer).data)
