"""Email to the customer through Django's email backends (SMTP in production; django-anymail's
backends for a provider's API, see README), written by a person: From carries the author's name at
the organization's sending address, Reply-To is the author, so the customer's answer reaches them.

The body is plain text, so markup in a name or a note stays text. Every email carries an
unsubscribe link (also as List-Unsubscribe, with RFC 8058 one-click), and a Message-ID made from
the message's id: a copy sent again after a crash between sending and recording it carries the
same id, so mail servers can drop it.
"""

import logging
import smtplib
import socket
import time
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils.translation import gettext

from incidents.validators import one_line
from recovery import languages

from . import links

logger = logging.getLogger(__name__)

# A refusal the mail server means (an unknown mailbox, a rejected sender): trying again will not help.
PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
# The connection itself failed: the rest of the batch is not tried on it.
CONNECTION = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout, OSError)


def sending_address():
    """The organization's sending address: OUTREACH_FROM_EMAIL, else the address of DEFAULT_FROM_EMAIL."""
    return settings.OUTREACH_FROM_EMAIL or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def message_id_domain():
    return sending_address().rpartition("@")[2] or "recovery"


def message_id(message):
    return f"<recovery-message-{message.pk}@{message_id_domain()}>"


def compose(message):
    """The EmailMessage for a Message: the text as sent, then the unsubscribe line."""
    incident = message.incident
    author = message.author
    writer = author.display_name() if author else incident.location.name
    unsubscribe = links.unsubscribe_url(incident.customer)
    with languages.speaking_to_customer(incident.customer):  # the unsubscribe line in the customer's language
        body = render_to_string("outreach/email.txt", {"message": message, "unsubscribe_url": unsubscribe})
        fallback_subject = gettext("A note from %(place)s") % {"place": incident.location.name}
    headers = {
        "Message-ID": message_id(message),
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return EmailMessage(
        # Names stored before line breaks were refused must not break a header (and every send with it).
        subject=one_line(message.subject) or one_line(fallback_subject),
        body=body,
        from_email=formataddr((one_line(f"{writer}, {incident.organization.name}"), sending_address())),
        to=[message.to],
        reply_to=[formataddr((one_line(writer), author.email))] if author and author.email else None,
        headers=headers,
    )


def send_emails(messages):
    """Send claimed email messages over one connection; [(message, outcome, detail, ms)] where outcome
    is "sent" (detail: the Message-ID), "retry" or "failed" (detail: the error)."""
    outcomes = []
    if not messages:
        return outcomes
    connection = get_connection(fail_silently=False)
    opened = False
    for index, message in enumerate(messages):
        started = time.monotonic()
        try:
            if not opened:
                connection.open()
                opened = True
            email = compose(message)
            email.connection = connection
            email.send(fail_silently=False)
        except PERMANENT as error:
            # smtplib has already reset the session (RSET): the next message goes on the same connection.
            outcomes.append((message, "failed", _words(error), _ms(started)))
        except CONNECTION as error:
            # The server went away or never answered: this one and the rest of the batch try again later.
            logger.warning("Email to customers: the mail server failed (%s); %d messages wait", error, len(messages) - index)
            outcomes += [(later, "retry", _words(error), _ms(started)) for later in messages[index:]]
            break
        except Exception as error:  # a provider's API error (anymail), a 4xx/5xx from it: tried again
            outcomes.append((message, "retry", _words(error), _ms(started)))
        else:
            outcomes.append((message, "sent", message_id(message), _ms(started)))
    try:
        connection.close()
    except Exception:  # closing a dead connection tells nothing new
        pass
    return outcomes


def _words(error):
    return f"{type(error).__name__}: {error}"[:2000]


def _ms(started):
    return int((time.monotonic() - started) * 1000)
