"""Which language a person or a customer is spoken to in.

A person's own choice (their profile) wins; without one, their browser's (LocaleMiddleware). A customer
hears from us in their recorded language when the app has it, in the organization's language when
theirs is not known, and in English when theirs is one the app does not have: never an error.
"""

import re
from contextlib import contextmanager

from django.conf import settings
from django.utils import translation

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def normalize_tag(text):
    """A language code as people type it ("ES", "pt_br", " en-gb ") in its usual spelling ("es", "pt-BR",
    "en-GB"); "" for nothing typed, None for something that is not a language code."""
    tag = (text or "").strip().replace("_", "-").lower()
    if not tag:
        return ""
    if not LANGUAGE_TAG.match(tag):
        return None
    language, *rest = tag.split("-")
    return "-".join([language] + [part.upper() if len(part) == 2 else part for part in rest])


def supported(code):
    """The app's language for `code` ("es-MX" → "es"), or None when the app does not have it."""
    tag = normalize_tag(code)
    if not tag:
        return None
    try:
        return translation.get_supported_language_variant(tag.lower())
    except LookupError:
        return None


def of_person(person, organization=None):
    """The language of what is written to a member of staff (emails, notifications): their own choice,
    else their organization's (`organization` when the caller has it at hand, saving a query)."""
    if person is None:
        return settings.LANGUAGE_CODE
    own = supported(person.language)
    if own:
        return own
    if organization is None and person.organization_id is not None:
        organization = person.organization
    return (organization is not None and supported(organization.language)) or settings.LANGUAGE_CODE


def of_customer(customer):
    """The language of a message to `customer`: theirs when the app has it; the organization's when
    theirs is not known; English when it is one the app does not have."""
    if customer.language:
        return supported(customer.language) or settings.LANGUAGE_CODE
    return supported(customer.organization.language) or settings.LANGUAGE_CODE


@contextmanager
def speaking_to_customer(customer):
    with translation.override(of_customer(customer)):
        yield


@contextmanager
def speaking_to(person, organization=None):
    with translation.override(of_person(person, organization)):
        yield
