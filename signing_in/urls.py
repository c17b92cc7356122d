# allauth mounts these under accounts/ with the other providers' URLs (allauth.urls builds them from
# each provider's package), so the names follow its pattern: "<provider id>_login" and "_callback".
from django.urls import path

from signing_in import views
from signing_in.provider import OrganizationSignOn

urlpatterns = [
    path("sso/", views.start, name="single_sign_on"),
    path("sso/<slug:provider_id>/login/", views.login, name=f"{OrganizationSignOn.id}_login"),
    path("sso/<slug:provider_id>/login/callback/", views.callback, name=f"{OrganizationSignOn.id}_callback"),
]
