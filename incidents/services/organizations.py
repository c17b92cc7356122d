"""Organizations, discretion budgets and the apology coach's phrase list."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from .. import coach
from ..models import CoachPhrase, Gesture, Organization
from .base import Conflict, NotAllowed, validate


@transaction.atomic
def create_organization(*, name, slug, **settings):
    """A new organization, with the default apology-coach phrase lists (one per language) to edit."""
    organization = Organization(name=name, slug=slug, **settings)
    validate(organization)
    organization.save()
    CoachPhrase.objects.bulk_create(
        CoachPhrase(organization=organization, language=language, phrase=phrase, kind=kind, suggestion=suggestion)
        for language, phrases in coach.DEFAULT_PHRASES.items()
        for phrase, kind, suggestion in phrases
    )
    return organization


def discretion_budget(user):
    if user.discretion_budget is not None:
        return user.discretion_budget
    return user.organization.default_discretion_budget


def remaining_budget(user, customer):
    """What `user` may still give `customer` without a manager: the budget is per person per customer."""
    spent = (
        Gesture.objects.filter(
            given_by=user,
            incident__customer=customer,
            currency=customer.organization.currency,
        )
        .exclude(approval=Gesture.Approval.REFUSED)
        .aggregate(total=Sum("cost"))["total"]
    )
    return max(discretion_budget(user) - (spent or Decimal("0")), Decimal("0"))


def coach_phrases(organization, language):
    """The phrases in use of the organization's list in `language` (see coach.language_of_apology)."""
    return list(organization.coach_phrases.filter(active=True, language=language)
                .values_list("phrase", "kind", "suggestion"))


def check_coach_phrase(organization, phrase, *, language, coach_phrase=None):
    """Raise Conflict if the list of `language` already has `phrase` (in any case). Forms call it to show
    the error beside the field; `save_coach_phrase` calls it again."""
    clash = CoachPhrase.objects.filter(organization=organization, language=language,
                                       phrase__iexact=(phrase or "").strip())
    if coach_phrase is not None and coach_phrase.pk is not None:
        clash = clash.exclude(pk=coach_phrase.pk)
    if clash.exists():
        raise Conflict(_("That phrase is already on the list."), field_errors={"phrase": [_("Already on the list.")]})


@transaction.atomic
def save_coach_phrase(organization, *, by, phrase, kind, suggestion, language="en", active=True, coach_phrase=None):
    """Add or edit one phrase of the organization's apology-coach list of `language`. Its managers, or an
    operator."""
    if not (by.is_operator or (by.is_manager and by.organization_id == organization.id)):
        raise NotAllowed(_("Only a manager can change the apology coach's phrases."))
    phrase = (phrase or "").strip()
    check_coach_phrase(organization, phrase, language=language, coach_phrase=coach_phrase)
    record = coach_phrase or CoachPhrase(organization=organization)
    if record.organization_id != organization.id:
        raise NotAllowed(_("That phrase belongs to another organization."))
    record.phrase, record.kind, record.suggestion, record.active = phrase, kind, suggestion, active
    record.language = language
    validate(record)
    record.save()
    return record
