"""Messages to customers go to a local SMTP server and a local fake SMS provider the tests start."""

import pytest

from tests.outreach.fake_sms_provider import FakeSmsProvider
from tests.smtp_server import SMTPServer


@pytest.fixture
def smtp(settings):
    """Real SMTP on 127.0.0.1: what the app sends is what the server received."""
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = server.host, server.port, False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield server


@pytest.fixture
def sms_provider(settings):
    """A fake of Twilio's Messages API on 127.0.0.1, with the app's SMS backend pointed at it."""
    with FakeSmsProvider(account_sid="AC-test", auth_token="test-auth-token") as provider:
        settings.SMS_BACKEND = "outreach.sms.TwilioBackend"
        settings.SMS_API_URL = provider.url
        settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN = provider.account_sid, provider.auth_token
        settings.SMS_FROM_NUMBER = "+442079460999"
        settings.SMS_READ_TIMEOUT = 0.5
        yield provider
