"""Problems in the helpdesk API: the recurring causes behind many incidents, their corrective actions and
linked incidents. Each view parses, calls one service of `problems.services` (the same the problem pages
call, with the same rule of who may manage problems), and renders; domain errors become problem documents
in `errors.exception_handler`. An API client acts for its organization: it sees all of its problems, and
another organization's problem is not found."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from incidents.services import Conflict
from incidents.validators import validate_in_range
from problems import services
from problems.models import OPEN_STATUSES, CorrectiveAction, Problem, Status
from problems.selectors import visible_problems

from . import problem_serializers as ps
from . import serializers as s
from .errors import PreconditionFailed
from .filtering import cursor_ordered_by, filter_rows, list_parameters, yes_no_filter
from .services import incident_rows, incidents_for, staff_for
from .throttling import client_of
from .views import ERRORS, IDEMPOTENCY_PARAMETER, ApiView, page_of, problems as problem_answers


def problems_for(user):
    """An API client sees its whole organization's problems; staff see what the problem pages show them."""
    client = client_of(user)
    if client is not None:
        return Problem.objects.filter(organization_id=client.organization_id)
    return visible_problems(user)


def etag_of(problem):
    return f'"problem-{problem.pk}-v{problem.version}"'


def render_problem(problem, *, now, **kwargs):
    response = Response(ps.represent(problem, now=now), **kwargs)
    response["ETag"] = etag_of(problem)
    return response


class OneProblem(ApiView):
    def problem(self, pk, now):
        """The caller's problem with what its representation shows; 404 for anyone else's."""
        return get_object_or_404(ps.problem_rows(now=now).filter(pk__in=problems_for(self.request.user).values("pk")), pk=pk)


# --- Problems ------------------------------------------------------------------------------------


class ProblemFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Status.choices, help_text="Where the problem stands.")
    open = yes_no_filter("true: investigating, fix planned, watching or recurred; false: closed.", method="filter_open")
    owner = filters.CharFilter(method="filter_owner", help_text="The owner's username (GET /api/v1/staff/).")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", validators=[validate_in_range],
                                              help_text="Changed at or after this moment (ISO 8601): to sync what changed.")

    class Meta:
        model = Problem
        fields = []

    def filter_open(self, queryset, name, value):
        return queryset.filter(status__in=OPEN_STATUSES) if value else queryset.exclude(status__in=OPEN_STATUSES)

    def filter_owner(self, queryset, name, value):
        if not staff_for(self.request.user, everyone=True).filter(username=value).exists():
            raise ValidationError({"owner": [f"No staff with the username '{value}'."]})
        return queryset.filter(owner__username=value)


class ProblemList(ApiView):
    filter_backends = [OrderingFilter]  # read by the cursor page for its order
    filterset_class = ProblemFilter
    ordering_fields = ["opened_at", "updated_at", "id"]
    pagination_class = cursor_ordered_by("-opened_at")

    @extend_schema(
        summary="List problems", operation_id="problems_list",
        description="Newest first by default. Filters combine; an unknown filter value or parameter answers 400.",
        responses={200: page_of(ps.ProblemSerializer, "ProblemPage"), **ERRORS},
        parameters=list_parameters(ProblemFilter, ordering_fields),
    )
    def get(self, request):
        now = timezone.now()
        rows = filter_rows(request, ps.problem_rows(now=now).filter(pk__in=problems_for(request.user).values("pk")), self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([ps.represent(problem, now=now) for problem in page])

    @extend_schema(
        summary="Open a problem", operation_id="problems_create",
        description="A recurring cause, owned by one person. Incidents that fit the pattern are linked as they "
                    "are logged. A manager's or the helpdesk's call.",
        request=ps.ProblemCreateInput, responses={201: ps.ProblemSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("Wednesday afternoons at Riverside", request_only=True, value={
            "title": "Cold food on Wednesday afternoons", "owner": "maria", "suspected_cause": "One cook on the pass",
            "pattern": {"location": "riverside", "weekday": 3, "hour_from": 15, "hour_to": 16},
        })],
    )
    def post(self, request):
        def create():
            data = self.parse(ps.ProblemCreateInput)
            pattern = ps.resolved_pattern(request.user.organization_id, data.pop("pattern", {}))
            problem = services.open_problem(by=request.user, pattern=pattern, **data)
            now = timezone.now()
            response = render_problem(ps.problem_rows(now=now).get(pk=problem.pk), now=now, status=status.HTTP_201_CREATED)
            response["Location"] = f"/api/v1/problems/{problem.pk}/"
            return response
        return self.answer(create)


IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                            description="The ETag you read; a stale one answers 412 and changes nothing.")


class ProblemDetail(OneProblem):
    @extend_schema(summary="Read one problem, with its verdict", operation_id="problems_retrieve",
                   responses={200: ps.ProblemSerializer, **ERRORS})
    def get(self, request, pk):
        now = timezone.now()
        return render_problem(self.problem(pk, now), now=now)

    @extend_schema(
        summary="Change a problem: its details, pattern or status, or mark the fix done",
        operation_id="problems_partial_update",
        description="Send only what changed. `fixed_at` marks the fix done (the problem then watches its pattern). "
                    "With If-Match (the ETag you read), a change made meanwhile answers 412 and nothing is changed.",
        request=ps.ProblemPatchInput, responses={200: ps.ProblemSerializer, **problem_answers(412), **ERRORS},
        parameters=[IF_MATCH],
        examples=[OpenApiExample("The fix is in", request_only=True, value={
            "confirmed_cause": "One cook on the pass at the start of the show rush", "fixed_at": "2026-03-04T09:00:00Z"})],
    )
    def patch(self, request, pk):
        now = timezone.now()
        problem = self.problem(pk, now)  # someone else's problem is not found, whatever the body says
        if_match = request.headers.get("If-Match")
        seen = None if not if_match or if_match.strip() == "*" else _etags(if_match)

        def change():
            if seen is not None and etag_of(problem) not in seen:
                raise _changed()
            try:
                changed_problem(problem, by=request.user, version=problem.version if seen is not None else None,
                                now=now, **self.parse(ps.ProblemPatchInput))
            except Conflict as conflict:
                if seen is not None and "version" in conflict.field_errors:
                    raise _changed() from None
                raise
            return render_problem(self.problem(pk, now), now=now)
        return self.answer(change)


def _changed():
    return PreconditionFailed("The problem changed since you read it (If-Match does not match its ETag). Read it again.")


def _etags(header):
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def changed_problem(problem, *, by, version, now, pattern=None, status=None, fixed_at=None, **details):
    """A PATCH in the services' terms, in one transaction (the view's): the details and the pattern
    (`update_problem`), then the fix (`mark_fixed`), then the status (`change_status`). Only the first
    compares `version` (If-Match): the problem's row stays locked from then on."""
    if pattern is not None:
        pattern = ps.resolved_pattern(problem.organization_id, pattern)
    if details or pattern is not None or version is not None:
        problem = services.update_problem(problem, by=by, version=version, pattern=pattern, now=now, **details)
    if fixed_at is not None:
        problem = services.mark_fixed(problem, by=by, version=None, fixed_at=fixed_at, now=now)
    if status is not None and status != problem.status:
        problem = services.change_status(problem, by=by, version=None, status=status, now=now)
    return problem


# --- Corrective actions and linked incidents --------------------------------------------------------


class ActionList(OneProblem):
    @extend_schema(summary="The problem's corrective actions, by due day", operation_id="problems_actions_list",
                   responses={200: ps.ActionSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        now = timezone.now()
        actions = self.problem(pk, now).actions.select_related("owner", "done_by").order_by("due_on", "id")
        return Response(ps.ActionSerializer(actions, many=True, context={"today": timezone.localdate(now)}).data)

    @extend_schema(
        summary="Add a corrective action", operation_id="problems_actions_create",
        description="Its owner is reminded on the morning it is due, then the problem owner's manager is told.",
        request=ps.ActionInput, responses={201: ps.ActionSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("A second cook", request_only=True, value={
            "description": "Roster a second cook on Wednesdays 14–17", "owner": "maria", "due_on": "2026-03-11"})],
    )
    def post(self, request, pk):
        def add():
            now = timezone.now()
            action = services.add_action(self.problem(pk, now), by=request.user, now=now, **self.parse(ps.ActionInput))
            return Response(ps.ActionSerializer(action, context={"today": timezone.localdate(now)}).data,
                            status=status.HTTP_201_CREATED)
        return self.answer(add)


class ActionDone(OneProblem):
    @extend_schema(
        summary="Mark a corrective action done", operation_id="problems_actions_done_create",
        description="Done already: nothing changes and the action is answered as it is.",
        request=ps.ActionDoneInput, responses={200: ps.ActionSerializer, **ERRORS}, parameters=[IDEMPOTENCY_PARAMETER],
        examples=[OpenApiExample("Done this morning", request_only=True, value={"done_at": "2026-03-04T09:30:00Z"})],
    )
    def post(self, request, pk, action_id):
        def done():
            now = timezone.now()
            action = get_object_or_404(CorrectiveAction.objects.filter(problem=self.problem(pk, now)), pk=action_id)
            action = services.complete_action(action, by=request.user, now=now, **self.parse(ps.ActionDoneInput))
            return Response(ps.ActionSerializer(action, context={"today": timezone.localdate(now)}).data)
        return self.answer(done)


class LinkedIncidents(OneProblem):
    filterset_class = None
    pagination_class = cursor_ordered_by("-logged_at")

    @extend_schema(summary="The incidents linked to the problem, newest first", operation_id="problems_incidents_list",
                   parameters=list_parameters(), responses={200: page_of(s.IncidentSerializer, "LinkedIncidentPage"), **ERRORS})
    def get(self, request, pk):
        problem = self.problem(pk, timezone.now())
        rows = filter_rows(request, incident_rows().filter(problem_links__problem=problem)
                           .filter(pk__in=incidents_for(request.user).values("pk")), self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.IncidentSerializer(page, many=True).data)
