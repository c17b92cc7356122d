from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import attachment_views, directory_views, message_views, problem_views, views, webhook_views

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
    path("incidents/<int:pk>/gestures/", views.GestureList.as_view(), name="incident-gestures"),
    path("incidents/<int:pk>/gestures/<int:gesture_id>/approve/", views.GestureApproval.as_view(), name="gesture-approve"),
    path("incidents/<int:pk>/gestures/<int:gesture_id>/refuse/", views.GestureRefusal.as_view(), name="gesture-refuse"),
    path("incidents/<int:pk>/helpers/", views.HelperList.as_view(), name="incident-helpers"),
    path("incidents/<int:pk>/helpers/<str:username>/", views.HelperDetail.as_view(), name="incident-helper"),
    path("incidents/<int:pk>/messages/", message_views.MessageList.as_view(), name="incident-messages"),
    path("incidents/<int:pk>/messages/<int:message_id>/send/", message_views.MessageSend.as_view(), name="message-send"),
    path("incidents/<int:pk>/survey/", message_views.SurveyAnswerView.as_view(), name="incident-survey"),
    path("incidents/<int:pk>/attachments/", attachment_views.AttachmentList.as_view(), name="incident-attachments"),
    path("incidents/<int:pk>/attachments/<int:attachment_id>/", attachment_views.AttachmentDownload.as_view(),
         name="incident-attachment"),
    path("customers/", views.CustomerList.as_view(), name="customer-list"),
    path("customers/<int:pk>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path("customers/<int:pk>/care-flag/", views.CareFlag.as_view(), name="customer-care-flag"),
    path("locations/", directory_views.LocationList.as_view(), name="location-list"),
    path("staff/", directory_views.StaffList.as_view(), name="staff-list"),
    path("categories/", directory_views.CategoryList.as_view(), name="category-list"),
    path("webhooks/", webhook_views.WebhookList.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", webhook_views.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries/", webhook_views.WebhookDeliveryList.as_view(), name="webhook-deliveries"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/", webhook_views.WebhookRedeliver.as_view(),
         name="webhook-redeliver"),
    path("webhooks/<int:pk>/rotate-secret/", webhook_views.WebhookRotateSecret.as_view(), name="webhook-rotate-secret"),
    # Problems (recurring causes) and, at /problems/<code> without a slash, the error documents' types.
    path("problems/", problem_views.ProblemList.as_view(), name="problem-list"),
    path("problems/<int:pk>/", problem_views.ProblemDetail.as_view(), name="problem-detail"),
    path("problems/<int:pk>/actions/", problem_views.ActionList.as_view(), name="problem-actions"),
    path("problems/<int:pk>/actions/<int:action_id>/done/", problem_views.ActionDone.as_view(), name="problem-action-done"),
    path("problems/<int:pk>/incidents/", problem_views.LinkedIncidents.as_view(), name="problem-incidents"),
    path("problems/types/", views.problem_types, name="problems"),
    path("problems/<str:code>", views.problem_types, name="problem"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", views.not_found),
]
