from django.urls import path

from . import cluster_views, idea_views, views

app_name = "problems"
urlpatterns = [
    path("", views.problem_list, name="list"),
    path("new/", views.problem_new, name="new"),
    path("from-cluster/", cluster_views.open_from_cluster, name="from_cluster"),
    path("<int:pk>/", views.problem_detail, name="detail"),
    path("<int:pk>/edit/", views.problem_edit, name="edit"),
    path("<int:pk>/status/", views.problem_status, name="status"),
    path("<int:pk>/fix/", views.problem_fix, name="fix"),
    path("<int:pk>/actions/", views.action_add, name="add_action"),
    path("<int:pk>/actions/<int:action_pk>/done/", views.action_done, name="action_done"),
    path("<int:pk>/ideas/", idea_views.attach_idea, name="attach_idea"),
    path("<int:pk>/ideas/<int:idea_pk>/thank/", idea_views.thank_customer, name="thank_customer"),
]
