from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def home(request):
    """My open recoveries, most urgent first."""
    return render(request, "incidents/home.html", {"incidents": selectors.open_incidents_for(request.user)})
