from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from django import forms
from django.utils.translation import gettext, gettext_lazy
from redis.exceptions import RedisError

from recovery.sign_in import is_locked_out


class TwoFactorCodeForm(AuthenticateForm):
    """The code asked for at sign-in, refused outright while the name is locked at this address."""

    def clean_code(self):
        if is_locked_out(context.request, self.user.get_username()):
            raise forms.ValidationError(gettext("Too many wrong codes. Please wait a few minutes and try again."),
                                        code="locked")
        try:
            return super().clean_code()
        except RedisError:
            # A used app code is remembered in the shared cache so it cannot be replayed; while that
            # cache is away no app code can be checked for reuse, so none is accepted. Recovery codes
            # are kept in the database and still work.
            raise forms.ValidationError(gettext("Codes from your app cannot be checked just now. Please try again in a "
                                        "minute, or use one of your recovery codes."), code="unavailable")


class SingleSignOnForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Work email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
