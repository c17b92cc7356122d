"""What an integrator needs to name things in a create: the organization's locations (their codes),
its people (their usernames) and the categories in use. Read-only, and nothing personal beyond a
name and a role."""

from drf_spectacular.utils import extend_schema
from rest_framework.filters import OrderingFilter

from . import serializers as s
from .filtering import cursor_ordered_by, filter_rows, list_parameters
from .services import categories_for, locations_for, staff_for
from .views import ERRORS, ApiView, page_of


class DirectoryList(ApiView):
    filter_backends = [OrderingFilter]
    filterset_class = None
    order = ""
    serializer = None

    def rows(self):
        raise NotImplementedError

    def get(self, request):
        rows = filter_rows(request, self.rows(), self)
        paginator = cursor_ordered_by(self.order)()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(self.serializer(page, many=True).data)


class LocationList(DirectoryList):
    order, serializer = "code", s.LocationSerializer

    def rows(self):
        return locations_for(self.request.user).prefetch_related("weekly_spans", "calendar_exceptions")

    @extend_schema(summary="List locations, with the codes a create names", operation_id="locations_list",
                   parameters=list_parameters(), responses={200: page_of(s.LocationSerializer, "LocationPage"), **ERRORS})
    def get(self, request):
        return super().get(request)


class StaffList(DirectoryList):
    order, serializer = "username", s.StaffSerializer

    def rows(self):
        return staff_for(self.request.user).prefetch_related("locations")

    @extend_schema(summary="List the organization's active staff, with the usernames owners and helpers are named by",
                   operation_id="staff_list", parameters=list_parameters(),
                   responses={200: page_of(s.StaffSerializer, "StaffPage"), **ERRORS})
    def get(self, request):
        return super().get(request)


class CategoryList(DirectoryList):
    order, serializer = "name", s.CategorySerializer

    def rows(self):
        return categories_for(self.request.user)

    @extend_schema(summary="List the categories in use", operation_id="categories_list",
                   description="Categories are free labels: a create may bring a new one. These are the ones in use, "
                               "so a helpdesk can offer them.",
                   parameters=list_parameters(), responses={200: page_of(s.CategorySerializer, "CategoryPage"), **ERRORS})
    def get(self, request):
        return super().get(request)
