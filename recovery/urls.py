from allauth.account import views as account_views
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from outreach import survey_views
from recovery.health import healthz
from recovery.sign_in import PasswordResetConfirmView, PasswordResetView


def not_offered(request, *args, **kwargs):
    raise Http404("Not offered here.")


urlpatterns = [
    path("", include("incidents.urls")),
    path("healthz", healthz, name="healthz"),
    # The page scripts' words (static/recovery/app.js) in the reader's language.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    # allauth's sign-in (it asks for the two-factor code when one is set up), throttled by django-axes
    # (recovery.sign_in).
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.LogoutView.as_view(), name="logout"),
    path("notifications/", include("followups.urls")),
    path("api/v1/", include("helpdesk.urls")),
    path("manage/problems/", include("problems.urls")),
    path("manage/", include("insights.urls")),
    path("settings/", include("organization_settings.urls")),
    path("messages/", include("outreach.urls")),
    # Photos and files of a failure, served only through their permission-checked views.
    path("attachments/", include("attachments.urls")),
    # The customer's satisfaction page: public, reached only through the signed link in the check.
    path("feedback/<str:token>/", survey_views.satisfaction_page, name="satisfaction_survey"),
    path("feedback/<str:token>/thanks/", survey_views.thanks_page, name="satisfaction_thanks"),
    path("accounts/password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    # An invited member of staff, or someone who asked for a reset link, chooses their password here
    # (Django's password-reset confirmation).
    path("accounts/password/<uidb64>/<token>/", PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/password/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # allauth's pages that the product does not offer: people are invited, not signed up; their email is
    # set by their organization (single sign-on matches on it); single sign-on is not linked by hand.
    path("accounts/login/", RedirectView.as_view(pattern_name="login", query_string=True)),  # one sign-in page
    path("accounts/signup/", not_offered),
    path("accounts/confirm-email/<path:rest>", not_offered),
    path("accounts/email/", not_offered),
    path("accounts/3rdparty/", not_offered),
    path("accounts/login/code/", not_offered),
    path("accounts/password/set/", not_offered),
    path("accounts/password/reset/key/<path:rest>", not_offered),
    path("accounts/", include("allauth.urls")),
]

handler500 = "recovery.errors.server_error"
