"""How the API's lists are filtered and paged, strictly: a filter value the API does not know, or a
query parameter it does not take, answers 400 naming it, never a page that silently ignores it.
The same FilterSets describe the parameters in the OpenAPI document (`list_parameters`)."""

import base64
import functools

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination

from incidents.validators import validate_in_range

from .errors import InvalidCursor

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


def yes_no_filter(help_text, **kwargs):
    """true or false, and nothing else: django-filter's own boolean reads "maybe" as no filter at all."""
    return filters.TypedChoiceFilter(choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true",
                                     help_text=help_text, **kwargs)


def filter_rows(request, rows, view):
    """`rows` filtered by the view's FilterSet; an invalid value or an unknown parameter is a 400."""
    unknown = sorted(set(request.query_params) - accepted_parameters(view))
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
    ordering = request.query_params.get("ordering")
    if ordering is not None:
        if ordering.lstrip("-") not in view.ordering_fields:
            raise ValidationError({"ordering": [f"One of {', '.join(view.ordering_fields)}, with or without a leading minus."]})
        # Applied by the cursor page, through the view's OrderingFilter.
    if not view.filterset_class:
        return rows
    filterset = view.filterset_class(request.query_params, queryset=rows, request=request)
    if not filterset.is_valid():
        raise ValidationError({name: list(messages) for name, messages in filterset.errors.items()})
    return filterset.qs


def accepted_parameters(view):
    names = {"cursor", "page_size"}
    if view.filterset_class:
        names |= set(view.filterset_class.base_filters)
    if getattr(view, "ordering_fields", None):
        names.add("ordering")
    return names


def list_parameters(filterset_class=None, ordering_fields=()):
    """The list's query parameters for the schema: each filter, the ordering, the cursor and the page size."""
    parameters = []
    for name, field in (filterset_class.base_filters.items() if filterset_class else ()):
        choices = field.extra.get("choices")
        kind = {filters.IsoDateTimeFilter: OpenApiTypes.DATETIME}.get(type(field), OpenApiTypes.STR)
        if isinstance(field, filters.TypedChoiceFilter) and [value for value, _ in choices] == ["true", "false"]:
            kind, choices = OpenApiTypes.BOOL, None
        parameters.append(OpenApiParameter(
            name, kind, description=str(field.extra.get("help_text") or field.label or name),
            enum=[value for value, _ in choices] if choices else None,
        ))
    if ordering_fields:
        parameters.append(OpenApiParameter(
            "ordering", str, description="Sort by this field; a leading minus sorts newest or largest first.",
            enum=[order for field in ordering_fields for order in (field, f"-{field}")],
        ))
    parameters += [
        OpenApiParameter("cursor", str, description="Where the page starts: the `next` or `previous` link of the page "
                                                    "before gives it. Leave it out for the first page."),
        OpenApiParameter("page_size", int, description=f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {PAGE_SIZE})."),
    ]
    return parameters


class OrderingWithId(OrderingFilter):
    """The order asked for (or the view's `ordering`), then the id in the same direction: rows logged in
    the same instant keep one order from page to page, and an index ending in the id (incidents'
    (organization, logged_at, id)) gives the whole order, so no page sorts anything."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or ordering[0].lstrip("-") == "id":
            return ordering
        return [ordering[0], ("-" if ordering[0].startswith("-") else "") + "id"]


class Cursor(CursorPagination):
    """Cursor pages: stable while rows are added, and never counted. `ordering` names the field rows
    are ordered by (unique enough to page through)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-logged_at"

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model  # the cursor's position is checked against its ordering field
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and not (size.isdigit() and 1 <= int(size) <= MAX_PAGE_SIZE):
            raise ValidationError({"page_size": [f"A whole number from 1 to {MAX_PAGE_SIZE}."]})
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
            elif hasattr(position, "isoformat"):
                validate_in_range(position)
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            raise InvalidCursor() from None
        return cursor


@functools.cache  # one class per ordering, made once rather than on every request
def cursor_ordered_by(field):
    return type(f"CursorBy{field.title()}", (Cursor,), {"ordering": field})
