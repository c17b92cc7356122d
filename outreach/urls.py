from django.urls import path

from . import views

app_name = "outreach"

urlpatterns = [
    # Public: the customer's unsubscribe link, no sign-in.
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # The SMS provider's webhooks, signed by the provider.
    path("sms/inbound/", views.sms_inbound, name="sms_inbound"),
    path("sms/status/", views.sms_status, name="sms_status"),
]
