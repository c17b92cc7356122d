"""What a phone number is, once for every door: parsed with `phonenumbers` (through
django-phonenumber-field) in the PHONENUMBER_DEFAULT_REGION when typed without a country code,
and stored in E.164 (+442079460018). The Log a failure page, the API's create, the services and
the customer search all read a number through `parse_phone`, so a text message and a search agree
on which customer a number is."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy
from phonenumber_field.phonenumber import to_python

INVALID = gettext_lazy("Enter a phone number we can call or text, e.g. +44 20 7946 0018 (or leave it empty).")


def parse_phone(text, *, strict=True):
    """`text` as an E.164 string; '' for nothing typed. Not a valid number: ValidationError, or ''
    when `strict` is off (a search, a webhook)."""
    text = (text or "").strip() if not hasattr(text, "as_e164") else text
    if not text:
        return ""
    number = to_python(text)
    if number and number.is_valid():
        return number.as_e164
    if strict:
        raise ValidationError(INVALID, code="invalid_phone_number")
    return ""


def validate_phone(value):
    """A form or serializer validator: refuses what `parse_phone` refuses."""
    parse_phone(value)
