from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from recovery.auth import ThrottledAuthenticationForm
from recovery.health import healthz

urlpatterns = [
    path("", include("incidents.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", include("followups.urls")),
    path("api/v1/", include("incidents.api.urls")),
    path("manage/", include("incidents.insights.urls")),
]

handler500 = "recovery.errors.server_error"
