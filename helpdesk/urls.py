from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views, webhook_views

app_name = "api"

urlpatterns = [
    path("incidents/", views.IncidentList.as_view(), name="incident-list"),
    path("incidents/<int:pk>/", views.IncidentDetail.as_view(), name="incident-detail"),
    path("incidents/<int:pk>/timeline/", views.Timeline.as_view(), name="incident-timeline"),
    path("incidents/<int:pk>/apology/", views.ApologyView.as_view(), name="incident-apology"),
    path("incidents/<int:pk>/review/", views.ReviewView.as_view(), name="incident-review"),
    path("incidents/<int:pk>/fix/", views.FixView.as_view(), name="incident-fix"),
    path("incidents/<int:pk>/follow-ups/", views.FollowUpView.as_view(), name="incident-follow-ups"),
    path("incidents/<int:pk>/deposition/", views.DepositionView.as_view(), name="incident-deposition"),
    path("incidents/<int:pk>/outcome/", views.OutcomeView.as_view(), name="incident-outcome"),
    path("customers/", views.CustomerList.as_view(), name="customer-list"),
    path("customers/<int:pk>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path("webhooks/", webhook_views.WebhookList.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", webhook_views.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries/", webhook_views.WebhookDeliveryList.as_view(), name="webhook-deliveries"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/", webhook_views.WebhookRedeliver.as_view(),
         name="webhook-redeliver"),
    path("webhooks/<int:pk>/rotate-secret/", webhook_views.WebhookRotateSecret.as_view(), name="webhook-rotate-secret"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", views.not_found),
]
