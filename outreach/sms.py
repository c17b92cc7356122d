"""Text messages to the customer through one small backend interface, chosen by SMS_BACKEND.

- `outreach.sms.ConsoleBackend` (the default, for `make run`): prints each text; with SMS_FILE_PATH
  set, `outreach.sms.FileBackend` appends them to that file instead.
- `outreach.sms.TwilioBackend`: Twilio's REST API (Messages.json) over `requests`, with its
  status callback and inbound messages answered by `outreach.views`. SMS_API_URL points it at
  another host speaking the same API (the tests' fake provider).

A backend's `send(message)` returns the provider's id, or raises `TemporaryFailure` (a 5xx, a
timeout: tried again later) or `PermanentFailure` (a 4xx: a number the provider refuses). Every
request carries an Idempotency-Key made from the message's id, so a retry after a timeout is one
text at a provider that honours it.
"""

import base64
import hashlib
import hmac
import json
import sys
import time

import requests
from django.conf import settings
from django.utils.module_loading import import_string

# Twilio's own opt-out words (and START to opt back in), matched on the whole message, any case.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}


class TemporaryFailure(Exception):
    """The provider did not take the text this time (it answered 5xx or 429, or did not answer)."""


class PermanentFailure(Exception):
    """The provider refused the text (a 4xx): the same request will never succeed."""


def idempotency_key(message):
    return f"recovery-message-{message.pk}"


class ConsoleBackend:
    stream = None

    def send(self, message):
        stream = self.stream or sys.stdout
        stream.write(f"--- Text message to {message.to} (message {message.pk})\n{message.body}\n---\n")
        stream.flush()
        return f"console-{message.pk}"

    def close(self):
        pass


class FileBackend(ConsoleBackend):
    def send(self, message):
        with open(settings.SMS_FILE_PATH, "a", encoding="utf-8") as self.stream:
            return super().send(message)


class TwilioBackend:
    """Twilio's Messages API: POST form fields From, To, Body (and StatusCallback) with the account's
    SID and auth token as Basic auth; the answer's `sid` is the provider id."""

    def __init__(self):
        self.session = requests.Session()
        self.session.auth = (settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN)

    def send(self, message):
        url = f"{settings.SMS_API_URL.rstrip('/')}/2010-04-01/Accounts/{settings.SMS_ACCOUNT_SID}/Messages.json"
        data = {"From": settings.SMS_FROM_NUMBER, "To": message.to, "Body": message.body}
        if settings.SMS_STATUS_CALLBACK:
            data["StatusCallback"] = settings.SMS_STATUS_CALLBACK
        try:
            answer = self.session.post(url, data=data, headers={"Idempotency-Key": idempotency_key(message)},
                                       timeout=(settings.SMS_CONNECT_TIMEOUT, settings.SMS_READ_TIMEOUT))
        except requests.RequestException as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        if answer.status_code >= 500 or answer.status_code == 429:
            raise TemporaryFailure(f"The SMS provider answered {answer.status_code}.")
        if answer.status_code >= 400:
            raise PermanentFailure(f"The SMS provider refused it ({answer.status_code}): {_provider_words(answer)}")
        try:
            return str(answer.json().get("sid", ""))
        except (ValueError, AttributeError):
            return ""

    def close(self):
        self.session.close()


def _provider_words(answer):
    try:
        return str(answer.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return answer.text[:200]


def get_backend():
    return import_string(settings.SMS_BACKEND)()


def send_texts(messages):
    """Send claimed text messages; [(message, outcome, detail, ms)] as `sending.send_emails` returns."""
    outcomes = []
    if not messages:
        return outcomes
    backend = get_backend()
    try:
        for message in messages:
            started = time.monotonic()
            try:
                provider_id = backend.send(message)
            except PermanentFailure as error:
                outcomes.append((message, "failed", str(error), _ms(started)))
            except Exception as error:  # TemporaryFailure, or the backend broke: tried again later
                outcomes.append((message, "retry", f"{type(error).__name__}: {error}", _ms(started)))
            else:
                outcomes.append((message, "sent", provider_id or "", _ms(started)))
    finally:
        backend.close()
    return outcomes


def _ms(started):
    return int((time.monotonic() - started) * 1000)


# --- The provider's webhooks -----------------------------------------------------------------------


def signature_is_valid(url, params, signature):
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL
    followed by each POST parameter's name and value, sorted by name."""
    if not settings.SMS_AUTH_TOKEN or not signature:
        return False
    payload = url + "".join(f"{name}{value}" for name, value in sorted(params))
    digest = hmac.new(settings.SMS_AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


def is_stop(body):
    return (body or "").strip().strip(".!").upper() in STOP_WORDS


def describe(params):
    """A short line for the log, never the text's body."""
    return json.dumps({key: params.get(key, "") for key in ("MessageSid", "MessageStatus", "ErrorCode")})
