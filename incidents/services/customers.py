"""Customers: found or made from what a person or a helpdesk knows, and their care flag."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from recovery import languages

from ..models import Customer
from ..phones import parse_phone
from .base import NotAllowed, RecoveryError, validate
from .team import may_direct


_LOOK_UP = object()


def customer_from_details(organization, *, name, email="", phone="", external_id="", found=_LOOK_UP):
    """The customer with this external id or email, or a new one, checked but not yet saved:
    `log_incident` saves a new customer together with its care flag.
    Contact details of a known customer fill gaps only, and are saved at once.
    `found` is what a caller already looked up by the rule of `known_customer` (None: nobody matched).
    A phone number is stored in E.164; one that is not a number is refused (`incidents.phones`)."""
    phone = phone_number(phone)
    if found is _LOOK_UP:
        found = known_customer(organization, external_id=external_id, email=email)
    if found is not None:
        updates = {"email": email, "phone": phone, "external_id": external_id}
        changed = [field for field, value in updates.items() if value and not getattr(found, field)]
        for field in changed:
            setattr(found, field, updates[field])
        if changed:
            found.save(update_fields=changed)
        return found
    customer = Customer(organization=organization, name=name, email=email, phone=phone, external_id=external_id)
    validate(customer, exclude=["organization"])
    return customer


def phone_number(text):
    """A phone number as every door reads it: E.164, '' for none; not a number: a RecoveryError."""
    try:
        return parse_phone(text)
    except ValidationError as error:
        raise RecoveryError(error.messages[0], field_errors={"phone": error.messages}) from error


def known_customer(organization, *, external_id="", email=""):
    """The customer that contact details name: by external id first, else by email (case aside; the
    first saved, if several share it). None when neither matches. The API's create reads the same
    rule in its names query (`helpdesk.fast_reads`); a test holds the two together."""
    customers = Customer.objects.filter(organization=organization)
    if external_id:
        found = customers.filter(external_id=external_id).first()
        if found is not None:
            return found
    if email:
        return customers.filter(email__iexact=email).order_by("pk").first()
    return None


_CARE_FLAG = ["care_flag", "care_note", "care_flagged_at", "care_flag_expires_at"]


def _raise_flag(customer, *, note, now, organization):
    # A flag raised again starts a new period; the last clearing stays on the row as history.
    customer.care_flag, customer.care_note, customer.care_flagged_at = True, note, now
    customer.care_flag_expires_at = now + datetime.timedelta(days=organization.care_flag_days)


def _save_flagged(customer, *, note, now, organization=None):
    """Set the care flag and save it: an UPDATE of the flag, or the INSERT of a new customer.
    If another request saved a customer with the same external id since this one was looked up,
    that one is flagged instead and `customer` becomes it. Returns `customer`. `organization` is the
    customer's, when the caller has it in hand (its care_flag_days sets the expiry)."""
    organization = organization or customer.organization
    _raise_flag(customer, note=note, now=now, organization=organization)
    if customer.pk is not None:
        customer.save(update_fields=_CARE_FLAG)
        return customer
    if not customer.external_id:
        customer.save()  # no unique constraint it could meet
        return customer
    try:
        # The race: two creates for one new customer at once. The external id's unique constraint
        # decides; the savepoint keeps the loser's transaction alive so it can flag the winner's row
        # (its INSERT waited for the winner to commit, so that row is there to read).
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        customer.pk = Customer.objects.values_list("pk", flat=True).get(
            organization_id=customer.organization_id, external_id=customer.external_id
        )
        customer.refresh_from_db()  # the stored row, not the details offered
        _raise_flag(customer, note=note, now=now, organization=organization)
        customer.save(update_fields=_CARE_FLAG)
    return customer


@transaction.atomic
def flag_customer(customer, *, note, by=None, now=None):
    """Flag the customer's file so the next person who serves them takes special care."""
    _require_of_organization(by, customer)
    return _save_flagged(customer, note=note, now=now or timezone.now())


@transaction.atomic
def clear_care_flag(customer, *, by, now=None):
    """The customer has been served with care since the failure: the flag stops showing, and who said
    so and when is kept. A flag that is not open (never raised, cleared, or already expired) keeps its
    history: clearing it again changes nothing."""
    _require_of_organization(by, customer)
    now = now or timezone.now()
    if not customer.care_flag_open_at(now):
        return customer
    customer.care_flag, customer.care_flag_cleared_at, customer.care_flag_cleared_by = False, now, by
    customer.save(update_fields=["care_flag", "care_flag_cleared_at", "care_flag_cleared_by"])
    return customer


def care_flag_period_changed(organization):
    """The organization changed how long a care flag lasts: every raised flag now expires that long after
    it was raised, in one UPDATE, so the change shows at once (a flag that had lapsed under a shorter
    period shows again if the longer one still covers it). Called by the settings' service in the
    transaction that saves the setting."""
    lasts = datetime.timedelta(days=organization.care_flag_days)
    return Customer.objects.filter(organization=organization, care_flag=True, care_flagged_at__isnull=False).update(
        care_flag_expires_at=F("care_flagged_at") + lasts)


@transaction.atomic
def set_lifetime_value(customer, *, by, lifetime_value):
    """What the customer is worth to the business over time (in the organization's currency): the
    figure the managers' "value kept" adds up. Managers and the helpdesk integration set it."""
    _require_of_organization(by, customer)
    if not may_direct(by):
        raise NotAllowed(gettext("Only a manager can set a customer's lifetime value."))
    customer.lifetime_value = lifetime_value
    validate(customer, exclude=["organization"])
    customer.save(update_fields=["lifetime_value"])
    return customer


@transaction.atomic
def set_contact_preferences(customer, *, by, preferred_channel="", language="", opted_out=False, now=None):
    """How the customer wants to hear from us: a channel, a language, or no messages at all. Opting
    out keeps its first moment; opting back in (the customer asked again) clears it."""
    _require_of_organization(by, customer)
    # Kept even when the app does not have it ("de"): messages then go in English, and the code is there
    # the day German is added.
    tag = languages.normalize_tag(language)
    if tag is None:
        raise RecoveryError(gettext("Write a language code, e.g. es, en or pt-BR."),
                            field_errors={"language": [gettext("Not a language code.")]})
    customer.preferred_channel, customer.language = preferred_channel, tag
    if opted_out and customer.opted_out_at is None:
        customer.opted_out_at = now or timezone.now()
    elif not opted_out:
        customer.opted_out_at = None
    validate(customer, exclude=["organization"])
    customer.save(update_fields=["preferred_channel", "language", "opted_out_at"])
    return customer


def _require_of_organization(by, customer):
    if by is not None and by.organization_id != customer.organization_id:
        raise NotAllowed(gettext("That customer belongs to another organization."))
