"""The customer's pages (unsubscribe) and the SMS provider's webhooks. Thin: check, call one service."""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import Customer

from . import links, services, sms

logger = logging.getLogger(__name__)


# The link's signature is its authority (no session, no cookie): a mail client's one-click
# unsubscribe (RFC 8058) posts here without a CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks (link checkers and mail scanners open links; they must not unsubscribe anyone);
    POST, from the page's button or the mail client, opts the customer out."""
    customer_id = links.customer_id_from_unsubscribe_token(token)
    customer = Customer.objects.select_related("organization").filter(pk=customer_id).first() if customer_id else None
    if customer is None:
        return render(request, "outreach/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        services.opt_out(Customer.objects.filter(pk=customer.pk))
        return render(request, "outreach/unsubscribe.html", {"customer": customer, "done": True})
    return render(request, "outreach/unsubscribe.html", {"customer": customer, "done": customer.opted_out_at is not None})


def _signed(request):
    url = settings.SITE_URL.rstrip("/") + request.get_full_path()
    return sms.signature_is_valid(url, request.POST.items(), request.headers.get("X-Twilio-Signature", ""))


@csrf_exempt
@require_POST
def sms_inbound(request):
    """A text from a customer. STOP (and Twilio's other opt-out words) opts every customer with that
    number out; other texts are left to the provider's inbox."""
    if not _signed(request):
        return HttpResponseForbidden("Bad signature.")
    if sms.is_stop(request.POST.get("Body")):
        services.opt_out_number(request.POST.get("From", ""))
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="text/xml")


@csrf_exempt
@require_POST
def sms_status(request):
    """The provider's word on a sent text: undelivered or failed marks the message BOUNCED."""
    if not _signed(request):
        return HttpResponseForbidden("Bad signature.")
    logger.info("SMS status %s", sms.describe(request.POST))
    if request.POST.get("MessageStatus") in ("undelivered", "failed"):
        services.record_bounce(request.POST.get("MessageSid", ""), reason=f"The provider reports it {request.POST['MessageStatus']} "
                               f"(error {request.POST.get('ErrorCode') or 'unknown'}).")
    return HttpResponse(status=204)
