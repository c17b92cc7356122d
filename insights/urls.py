from django.urls import path

from . import views

app_name = "insights"
urlpatterns = [
    path("", views.open_recoveries, name="open"),
    path("incidents/<int:pk>/reassign/", views.reassign, name="reassign"),
    path("incidents/<int:pk>/helpers/", views.add_helper, name="add_helper"),
    path("gestures/<int:pk>/decide/", views.decide_gesture, name="decide_gesture"),
    path("scorecard/", views.scorecard, name="scorecard"),
    path("trends/", views.trends, name="trends"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/bulk/", views.bulk_review, name="bulk_review"),
    path("incidents/bulk/confirm/", views.bulk_apply, name="bulk_apply"),
    path("views/", views.save_view, name="save_view"),
    path("views/<int:pk>/delete/", views.delete_view, name="delete_view"),
    path("answers/", views.customer_answers, name="answers"),
    path("export.csv", views.export_csv, name="export"),
    path("exports/<int:pk>/", views.export_job, name="export_job"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("exports/<int:pk>/retry/", views.export_retry, name="export_retry"),
]
