from django.urls import path

from . import views

app_name = "settings"

urlpatterns = [
    path("", views.organization, name="organization"),
    path("locations/", views.locations, name="locations"),
    path("locations/<int:pk>/", views.location, name="location"),
    path("language/", views.my_language, name="language"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:pk>/", views.member, name="member"),
    path("staff/<int:pk>/active/", views.member_active, name="member_active"),
    path("staff/<int:pk>/invitation/", views.member_invitation, name="member_invitation"),
    path("api-clients/", views.api_clients, name="api_clients"),
    path("api-clients/<int:pk>/", views.api_client, name="api_client"),
    path("api-clients/<int:pk>/active/", views.api_client_active, name="api_client_active"),
    path("api-clients/<int:pk>/tokens/", views.api_token_issue, name="api_tokens"),
    path("api-clients/<int:pk>/tokens/<int:token_pk>/rotate/", views.api_token_rotate, name="api_token_rotate"),
    path("api-clients/<int:pk>/tokens/<int:token_pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("single-sign-on/", views.single_sign_on, name="single_sign_on"),
    path("api-clients/<int:pk>/webhooks/<int:webhook_pk>/active/", views.webhook_active, name="webhook_active"),
    path("api-clients/<int:pk>/webhooks/<int:webhook_pk>/secret/", views.webhook_secret_rotate, name="webhook_secret"),
]
