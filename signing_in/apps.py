from django.apps import AppConfig


class SigningInConfig(AppConfig):
    """How people get in: the sign-in pages (django-allauth, throttled by django-axes in
    recovery.sign_in), two-factor and an organization's requirement of it, and each organization's
    single sign-on through its own OpenID Connect identity provider."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "signing_in"
    verbose_name = "Signing in"

    def ready(self):
        from signing_in import two_factor  # noqa: F401  (counts wrong codes with the sign-in throttle)
