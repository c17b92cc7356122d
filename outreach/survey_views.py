"""The public satisfaction page: no sign-in, reached only through the signed link in the satisfaction
check. Thin views: read the link, validate the form, call `outreach.survey`, render."""

from django import forms
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.utils import translation
from django.utils.translation import gettext_lazy

from recovery import languages

from . import survey

RECOMMEND_CHOICES = [(n, str(n)) for n in range(11)]


class SurveyForm(forms.Form):
    feeling = forms.TypedChoiceField(
        label=gettext_lazy("How do you feel about us now, compared with before this happened?"),
        choices=survey.FEELINGS, coerce=int, widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose how you feel about us now.")})
    would_recommend = forms.TypedChoiceField(
        label=gettext_lazy("How likely are you to come back and recommend us to a friend?"),
        choices=RECOMMEND_CHOICES, coerce=int, widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose a number from 0 to 10.")})
    suggestion = forms.CharField(
        label=gettext_lazy("Is there anything we could do better?"), required=False, max_length=survey.SUGGESTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}))


def _link_or_error_page(request, token):
    """(incident, None) for a good link; (None, the page that says why not) for a forged, altered or
    expired one. Nothing is read beyond the link itself, nothing is written."""
    try:
        incident = survey.incident_for_token(token)
    except survey.LinkExpired:
        return None, _problem(request, expired=True, status=410)
    except survey.LinkInvalid:
        return None, _problem(request, expired=False, status=404)
    _speak_the_customers_language(request, incident.customer)
    return incident, None


def _speak_the_customers_language(request, customer):
    """The page in the language the check was written in, when the customer's is one the app has;
    otherwise their browser's (LocaleMiddleware)."""
    language = languages.supported(customer.language)
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def _problem(request, *, expired, status):
    return render(request, "outreach/survey_link_problem.html",
                  {"expired": expired, "link_days": survey.LINK_VALID.days}, status=status)


def _context(incident, answer, now, **extra):
    return {"incident": incident, "business": incident.organization.name, "location": incident.location.name,
            "owner": incident.owner.display_name(), "answer": answer, "may_change": survey.may_change(answer, now),
            "feeling_label": survey.feeling_label(answer.feeling) if answer else "", "zone": incident.location.timezone,
            "change_until": answer.answered_at + survey.CHANGE_WINDOW if answer else None, **extra}


@require_http_methods(["GET", "POST"])
def satisfaction_page(request, token):
    incident, problem = _link_or_error_page(request, token)
    if problem:
        return problem
    now = timezone.now()
    answer = survey.answer_of(incident)
    status = 200
    if request.method == "POST":
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                survey.record_answer(incident, now=now, **form.cleaned_data)
            except survey.AnswerClosed as error:
                form.add_error(None, error.message)
                status = 409
            else:
                return redirect("satisfaction_thanks", token=token)
        else:
            status = 400
    else:
        initial = {"feeling": answer.feeling, "would_recommend": answer.would_recommend,
                   "suggestion": answer.suggestion} if answer else {}
        form = SurveyForm(initial=initial)
    return render(request, "outreach/survey.html", _context(incident, answer, now, form=form), status=status)


@require_GET
def thanks_page(request, token):
    incident, problem = _link_or_error_page(request, token)
    if problem:
        return problem
    answer = survey.answer_of(incident)
    if answer is None:
        return redirect("satisfaction_survey", token=token)
    return render(request, "outreach/survey_thanks.html", _context(incident, answer, timezone.now(), token=token))
