# Not namespaced: "home" is the name the log-in redirect and other apps' pages already use.
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("log/", views.log_failure, name="log_failure"),
    path("customers/", views.customer_lookup, name="customer_lookup"),
    path("customers/search.json", views.customer_search, name="customer_search"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("incidents/<str:reference>/", views.incident_detail, name="incident"),
    path("incidents/<str:reference>/<str:step>/", views.record_step, name="incident_step"),
    path("coach/phrases/", views.coach_phrases, name="coach_phrases"),
]
