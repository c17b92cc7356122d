from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services


@login_required
def inbox(request):
    """My notifications, newest first; unread ones stand out."""
    unread_only = request.GET.get("show") == "unread"
    page = Paginator(selectors.inbox(request.user, unread_only=unread_only), 50).get_page(request.GET.get("page"))
    return render(request, "followups/inbox.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def mark_read(request):
    """Mark one notification read (`notification`), or all of them (`all`)."""
    if request.POST.get("all"):
        services.mark_all_read(request.user)
    else:
        ids = [value for value in request.POST.getlist("notification") if value.isdigit()]
        services.mark_read(request.user, ids)
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/notifications/") else "followups:inbox")
