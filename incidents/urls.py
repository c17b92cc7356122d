# Not namespaced: "home" is the name the log-in redirect and other apps' pages already use.
from django.urls import path

from outreach import progress_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("mine/", views.my_recoveries, name="my_recoveries"),
    path("log/", views.log_failure, name="log_failure"),
    path("search/", views.search, name="search"),
    path("customers/", views.customer_lookup, name="customer_lookup"),
    path("customers/search.json", views.customer_search, name="customer_search"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("customers/<int:pk>/care-flag/clear/", views.clear_care_flag, name="clear_care_flag"),
    path("customers/<int:pk>/contact/", views.contact_preferences, name="contact_preferences"),
    path("incidents/<str:reference>/", views.incident_detail, name="incident"),
    # Before the steps' route, which would read "progress-report" as a step.
    path("incidents/<str:reference>/progress-report/", progress_views.progress_report, name="progress_report"),
    path("incidents/<str:reference>/<str:step>/", views.record_step, name="incident_step"),
    path("coach/phrases/", views.coach_phrases, name="coach_phrases"),
]
