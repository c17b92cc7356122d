import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.http import Http404
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django.utils.translation import gettext

from recovery.sign_in import is_locked_out, locked_out
from signing_in import single_sign_on
from signing_in.forms import SingleSignOnForm
from signing_in.provider import OrganizationSignOnAdapter


@require_http_methods(["GET", "POST"])
def start(request):
    """"Sign in with your organization": the work email says which identity provider to go to."""
    form = SingleSignOnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if is_locked_out(request, form.cleaned_data["email"]):
            return locked_out(request, credentials={"username": form.cleaned_data["email"]})
        sign_on = single_sign_on.for_email(form.cleaned_data["email"])
        if sign_on is not None:
            provider = get_adapter(request).get_provider(request, sign_on.app.provider_id)
            next_url = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
                next_url = None
            try:
                to_provider = provider.redirect(request, "login", next_url=next_url or None,
                                                auth_params={"login_hint": form.cleaned_data["email"]})
                # A page of ours moves on to the provider: browsers hold a form's redirect to the
                # page's Content-Security-Policy (form-action 'self'), which a provider is outside of.
                return render(request, "signing_in/to_provider.html",
                              {"url": to_provider["Location"], "organization": sign_on.organization})
            except requests.RequestException:  # its configuration is read from the provider
                form.add_error("email", gettext("Your organization's sign-in page cannot be reached just now. Please try "
                                        "again in a minute, or sign in with your username and password."))
        else:
            form.add_error("email", gettext("Single sign-on is not set up for that address. Sign in with your username and "
                                    "password, or ask your manager."))
    return render(request, "signing_in/single_sign_on.html", {"form": form}, status=400 if form.errors else 200)


def _adapter_view(view_class):
    def view(request, provider_id):
        try:
            return view_class.adapter_view(OrganizationSignOnAdapter(request, provider_id))(request)
        except SocialApp.DoesNotExist:
            raise Http404(gettext("No such single sign-on."))
    return view


login = _adapter_view(OAuth2LoginView)
callback = _adapter_view(OAuth2CallbackView)
