"""Photos and files of a failure over the API: list an incident's, attach one (multipart), download or remove one.
The rules are the attachments app's (the same checks and limits as the pages); these views parse, call and
render. A file is read only through its incident, so another organization's is not found."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, renderers, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from attachments import services
from attachments.models import Attachment
from attachments.views import serve

from .views import ERRORS, IDEMPOTENCY_PARAMETER, ApiView

FIELD = "file"
FILE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True, help_text="The file's name as it was sent.")
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    step = serializers.CharField(read_only=True, help_text="Where it was attached: logging, a step's name, or empty.")

    class Meta:
        model = Attachment
        fields = ["id", "kind", "name", "content_type", "size_bytes", "width", "height", "step", "uploaded_by",
                  "uploaded_at"]
        read_only_fields = fields


class AnyFileRenderer(renderers.BaseRenderer):
    """Lets a client ask for the file's own type (Accept: image/jpeg); an error is still a JSON document."""

    media_type = "*/*"
    format = "file"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data, renderer_context=renderer_context)


UPLOAD = {"multipart/form-data": {"type": "object", "required": [FIELD], "properties": {FIELD: {
    "type": "string", "format": "binary",
    "description": "A JPEG, PNG or WebP photo, or a PDF, at most 15 MB. A photo is stored re-encoded, upright, "
                   "without its EXIF or GPS metadata."}}}}


class AttachmentList(ApiView):
    parser_classes = [parsers.MultiPartParser]

    @property
    def max_body_bytes(self):
        # One file at its limit and the multipart framing; a larger file gets its 400 with the field error.
        return settings.ATTACHMENT_MAX_BYTES + 1024 * 1024

    @extend_schema(summary="The incident's photos and files", operation_id="incidents_attachments_list",
                   description="Oldest first. Download each one at its `id`.",
                   responses={200: AttachmentSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        attachments = Attachment.objects.filter(incident=self.incident(pk)).select_related("uploaded_by")
        return Response(AttachmentSerializer(attachments, many=True).data)

    @extend_schema(
        summary="Attach a photo or a file",
        description="multipart/form-data with one part, `file`. The content decides the type, not the name: "
                    "a file that is not a JPEG, PNG or WebP photo or a PDF, or is over the size limit, or one more "
                    "than an incident holds, answers 400 with the reason on `file`, and nothing is stored.",
        request=UPLOAD, responses={201: AttachmentSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request, pk):
        def write():
            incident = self.incident(pk)
            uploads = request.FILES.getlist(FIELD)
            if len(uploads) != 1:
                raise ValidationError({FIELD: ["Send one file, as the multipart part `file`."]})
            prepared = services.prepare_all(uploads, field=FIELD)
            [attachment] = services.attach(incident, by=request.user, prepared=prepared, field=FIELD)
            return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)
        return self.answer(write)


class AttachmentDownload(ApiView):
    renderer_classes = [renderers.JSONRenderer, AnyFileRenderer]

    def attachment(self, pk, attachment_id):
        """The attachment, found only through its incident (so another organization's is not found)."""
        incident = self.incident(pk)
        attachment = get_object_or_404(Attachment.objects.filter(incident=incident), pk=attachment_id)
        attachment.incident = incident
        return attachment

    @extend_schema(summary="Download a photo or a file", operation_id="incidents_attachments_retrieve",
                   description="The stored file, in its own content type (a photo as re-encoded, without metadata).",
                   responses={**{(200, kind): OpenApiTypes.BINARY for kind in FILE_TYPES}, **ERRORS},
                   parameters=[OpenApiParameter("format", exclude=True)])  # the file's type is its own
    def get(self, request, pk, attachment_id):
        return serve(self.attachment(pk, attachment_id))

    @extend_schema(summary="Remove a photo or a file", operation_id="incidents_attachments_destroy",
                   description="Takes it off the incident, with a timeline entry naming it; the stored file goes "
                               "too. Whoever attached it (this client, for its own uploads) or a manager may; "
                               "anyone else answers 403.",
                   responses={204: None, **ERRORS},
                   parameters=[IDEMPOTENCY_PARAMETER, OpenApiParameter("format", exclude=True)])
    def delete(self, request, pk, attachment_id):
        def write():
            services.remove(self.attachment(pk, attachment_id), by=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.answer(write)
