"""Saved views: a person's named filters for a page of the console (open recoveries, incidents,
trends), applied in one click. What is stored is the query string as the page's own filter form
(`scope.Filters`) read it when saved: only its fields, each written back from its parsed value, so a
saved view holds nothing the page would not have accepted typed in."""

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.services import RecoveryError

from .models import SavedView
from .scope import Filters, categories_of, staff_of

MAX_VIEWS_PER_PAGE = 20
# Not filters: where the page was and how it was shown.
NOT_FILTERS = ("page", "partial")


def views_of(user, page):
    return SavedView.objects.filter(user=user, page=page).order_by("name")


def filters_query(query_string, scope):
    """The filters of a query string, as a query string the page's form accepted; RecoveryError (with
    the form's field errors) when it refuses any. A filter left empty is left out, so a view saved
    without dates keeps the page's rolling default period."""
    data = QueryDict(query_string)
    form = Filters(data, scope=scope, staff=staff_of(scope), categories=categories_of(scope))
    if not form.is_valid():
        raise RecoveryError(_("These filters cannot be saved; correct them on the page first."),
                            field_errors={name: list(errors) for name, errors in form.errors.items()})
    kept = QueryDict(mutable=True)
    for name in form.fields:
        value = form.cleaned_data.get(name)
        if data.get(name, "") == "" or value in (None, "", False):
            continue
        kept[name] = value.isoformat() if hasattr(value, "isoformat") else "on" if value is True else str(value)
    return kept.urlencode()


def save_view(*, by, scope, page, name, query, now=None):
    """Save the page's filters under a name; the same name again replaces what it held."""
    name = " ".join(name.split())
    if not name:
        raise RecoveryError(_("Give the view a name."), field_errors={"name": [_("Give the view a name.")]})
    query = filters_query(query, scope)
    views = views_of(by, page)
    existing = views.filter(name=name).first()
    if existing is None and views.count() >= MAX_VIEWS_PER_PAGE:
        raise RecoveryError(_("You have %(count)s views for this page: delete one first.") % {"count": MAX_VIEWS_PER_PAGE},
                            field_errors={"name": [_("Too many views for this page.")]})
    view, _created = SavedView.objects.update_or_create(
        user=by, page=page, name=name, defaults={"query": query}, create_defaults={"query": query,
                                                                                  "created_at": now or timezone.now()})
    return view


def delete_view(view):
    view.delete()
