"""The problem pages: thin views over problems.services and problems.selectors."""

from django.http import HttpResponse


def problem_list(request):
    return HttpResponse("")


def problem_detail(request, pk):
    return HttpResponse("")
