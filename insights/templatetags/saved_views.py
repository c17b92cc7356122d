"""{% saved_views "open" %}: the person's saved views for a page of the console, and saving the
filters in use, above the page's filter form (one query)."""

from django import template

from ..saved_views import NOT_FILTERS, views_of

register = template.Library()


@register.inclusion_tag("insights/_saved_views.html", takes_context=True)
def saved_views(context, page):
    request = context["request"]
    query = request.GET.copy()
    for name in NOT_FILTERS:
        query.pop(name, None)
    views = list(views_of(request.user, page))
    current = sorted(query.lists())
    for view in views:
        from django.http import QueryDict

        view.is_current = sorted(QueryDict(view.query).lists()) == current
    return {"views": views, "page": page, "query": query.urlencode(), "csrf_token": context.get("csrf_token"),
            "path": request.path}
