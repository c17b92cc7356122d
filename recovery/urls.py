from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from recovery.health import healthz
from recovery.sign_in import PasswordResetView

urlpatterns = [
    path("", include("incidents.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),  # throttled by django-axes (recovery.sign_in)
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", include("followups.urls")),
    path("api/v1/", include("incidents.api.urls")),
    path("manage/", include("incidents.insights.urls")),
    path("settings/", include("organization_settings.urls")),
    path("accounts/password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    # An invited member of staff, or someone who asked for a reset link, chooses their password here
    # (Django's password-reset confirmation).
    path("accounts/password/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        success_url="/accounts/password/done/"), name="password_reset_confirm"),
    path("accounts/password/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

handler500 = "recovery.errors.server_error"
