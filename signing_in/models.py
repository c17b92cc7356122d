from allauth.socialaccount.models import SocialApp
from django.db import models
from django.utils.translation import gettext_lazy

from incidents.models import Organization


class SingleSignOn(models.Model):
    """An organization's own identity provider (OpenID Connect). Its client settings live in allauth's
    SocialApp (`app`), which the sign-in flow reads; this row ties it to the organization and to the work
    email domain whose people are sent there."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="single_sign_on")
    app = models.OneToOneField(SocialApp, on_delete=models.PROTECT, related_name="single_sign_on")
    email_domain = models.CharField(
        max_length=253, unique=True,
        help_text=gettext_lazy("People whose work email ends in @ this domain sign in through the identity provider."),
    )
    active = models.BooleanField(default=True)

    def __str__(self):
        return f"{self.organization} · {self.email_domain}"
