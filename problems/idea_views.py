"""The problem page's "What customers suggested": attach a customer's words as an idea, thank them once
the problem is fixed. Thin: parse, call one service in problems.ideas, redirect back to the section. A
refused form's errors and what was typed wait in the session for the page to show them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.utils.translation import gettext

from incidents.services import NotAllowed, RecoveryError
from outreach import services as outreach
from outreach.models import Message

from . import ideas
from .models import CustomerIdea, Problem
from .templatetags.problem_ideas import FLASH_KEY


def _problem(request, pk):
    try:
        return ideas.problem_for_ideas(request.user, pk)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except Problem.DoesNotExist:
        raise Http404(gettext("No such problem.")) from None


def _run(request, problem, form, text, call):
    try:
        return call()
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except RecoveryError as error:
        request.session[FLASH_KEY.format(problem.pk)] = {
            "form": form, "text": text, "message": error.message,
            "errors": {field: [str(m) for m in field_messages] for field, field_messages in error.field_errors.items()},
        }
        return None


def _back(problem):
    return redirect(reverse("problems:detail", args=[problem.pk]) + "#ideas")


@login_required
@require_POST
def attach_idea(request, pk):
    problem = _problem(request, pk)
    incident, source, text = request.POST.get("incident", ""), request.POST.get("source", ""), request.POST.get("text", "")
    idea = _run(request, problem, f"attach-{incident}-{source}", text, lambda: ideas.attach_idea(
        problem, by=request.user, incident=incident, text=text, source=source))
    if idea:
        messages.success(request, gettext("The idea from %(reference)s is attached.") % {"reference": idea.incident.reference})
    return _back(problem)


@login_required
@require_POST
def thank_customer(request, pk, idea_pk):
    problem = _problem(request, pk)
    try:
        idea = problem.ideas.get(pk=idea_pk)
    except CustomerIdea.DoesNotExist:
        raise Http404(gettext("No such idea.")) from None
    text = request.POST.get("text", "")
    idea = _run(request, problem, f"thank-{idea.pk}", text, lambda: ideas.thank_customer(idea, by=request.user, text=text))
    if idea:
        message = idea.thank_you_message
        if message and message.status == Message.Status.NOT_SENT:
            messages.warning(request, gettext("The thank-you was not sent: %(status_note)s") % {"status_note": message.status_note})
        elif message:
            messages.success(request, gettext("The thank-you to %(name)s goes by %(value)s to %(to)s.") % {"name": idea.incident.customer.name, "value": outreach.CHANNEL_WORDS[message.channel], "to": message.to})
        else:
            messages.success(request, gettext("%(name)s cannot be messaged: a call to thank them is on %(name2)s's list.") % {"name": idea.incident.customer.name, "name2": idea.problem.owner.display_name()})
    return _back(problem)
