"""What the engine says, to whom, and how it reaches them: the in-app inbox and email.

The inbox row is written in the sweep's transaction, so a notification exists as soon as the
engine acted. Email goes out later through Django's email backend (console or file in development,
SMTP in production), one Delivery row per message, so a failure is retried and never lost.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext

from incidents import clock
from incidents import services as incident_services
from incidents.models import Location, User
from incidents.validators import one_line
from recovery import languages

from . import selectors
from .models import Delivery, Notification

Kind = Notification.Kind


# --- Who hears about it ---------------------------------------------------------------------------


def owner_and_helpers(incident):
    """Who acts on a reminder. A helpdesk integration that owns an incident (its ticket named no
    agent) cannot, so the location's managers hear in its place and can hand it to someone."""
    owners = location_managers(incident) if incident_services.is_integration(incident.owner) else [incident.owner]
    people = [*owners, *incident.helpers.all()]
    return [person for person in people if person.is_active]


def location_staff(incident):
    """Colleagues who may meet this customer next; the person who logged it already knows."""
    return list(
        User.objects.filter(locations=incident.location, is_active=True)
        .exclude(pk=incident.logged_by_id)
        .order_by("pk")
    )


def location_managers(incident):
    return list(
        User.objects.filter(locations=incident.location, role=User.Role.MANAGER, is_active=True).order_by("pk")
    )


def organization_admins(incident):
    return list(
        User.objects.filter(organization=incident.organization_id, role=User.Role.ADMIN, is_active=True).order_by("pk")
    )


# --- When an email may go ---------------------------------------------------------------------------

# The twenty-minute clock does not wait for opening hours: its heads-up, the missed window and the
# escalations after it are emailed at once, whoever is told and whatever the hour.
AT_ONCE = (clock.HEADS_UP, clock.TWENTY_MINUTE, clock.ESCALATE_ADMINS)


def on_duty_at(people, incident, now):
    """{person id: when their email may go}: `now` for someone on duty, else the next opening.

    A person is on duty while one of their locations is open by its business calendar. Someone with no
    location of their own (an organization's admin, say) goes by the incident's location, or, for news not
    about an incident, by their organization's locations; with none at all, the email goes now. Two or three
    queries for all of them: who works where, those locations and their calendars."""
    people = {person.pk: person for person in people}
    if not people:
        return {}
    places = {}
    for user_id, location in User.locations.through.objects.filter(user_id__in=list(people)).values_list(
            "user_id", "location_id"):
        places.setdefault(user_id, set()).add(location)
    homeless = [person for pk, person in people.items() if pk not in places]
    if homeless and incident is not None:
        for person in homeless:
            places[person.pk] = {incident.location_id}
    elif homeless:
        by_organization = {}
        for pk, organization_id in Location.objects.filter(
                organization_id__in={person.organization_id for person in homeless}).values_list("pk", "organization_id"):
            by_organization.setdefault(organization_id, set()).add(pk)
        for person in homeless:
            places[person.pk] = by_organization.get(person.organization_id, set())
    wanted = {pk for ids in places.values() for pk in ids}
    locations = {incident.location_id: incident.location} if incident is not None else {}
    locations.update((location.pk, location) for location in Location.objects.filter(pk__in=wanted - set(locations)))
    incident_services.attach_calendars([locations[pk] for pk in wanted])
    opens = {pk: incident_services.calendar_for(locations[pk]).next_open_at(now) or now for pk in wanted}
    return {person_id: min((opens[pk] for pk in places[person_id]), default=now) for person_id in people}


def held_until_on_duty(notifications, incident, now):
    """{recipient id: their next opening} for the emailed recipients who are off duty now; the inbox row is
    there at once, the email waits and the sweep's backstop (requeue_deliveries) queues it then."""
    goes_at = on_duty_at([notification.recipient for notification in notifications], incident, now)
    return {pk: moment for pk, moment in goes_at.items() if moment > now}


def email_deliveries(notifications, *, held, now):
    """One email Delivery per notification: held ones wait for {recipient id: moment}; the rest go now,
    and if no task has finished one by FOLLOWUPS_REQUEUE_AFTER (the broker was down, a worker died) the
    sweep queues it again. Returns the ids of the deliveries that may go now."""
    deliveries = Delivery.objects.bulk_create(
        Delivery(notification=notification, channel=Delivery.Channel.EMAIL,
                 next_attempt_at=held.get(notification.recipient_id) or now + settings.FOLLOWUPS_REQUEUE_AFTER)
        for notification in notifications
    )
    return [delivery.pk for delivery, notification in zip(deliveries, notifications) if notification.recipient_id not in held]


# --- What it says -----------------------------------------------------------------------------------


def _local(moment, incident):
    return moment.astimezone(incident.location.zone)


def _minutes(duration):
    return int(duration.total_seconds() // 60)


def compose(kind, incident, *, escalated_to_admins=False, missed_day=None):
    """The title and body of one kind of notification about an incident: (title, body, draft), in the
    language active when called (create_notifications: the recipient's)."""
    words = {
        "customer": incident.customer.name, "ref": incident.reference, "owner": incident.owner.display_name(),
        "deadline": f"{_local(incident.follow_up_due_at, incident):%H:%M}", "location": incident.location.name,
        "summary": incident.summary, "window": _minutes(incident.organization.follow_up_window),
    }
    draft = ""
    if kind == Kind.INTERNAL_ALERT:
        title = gettext("Take special care of %(customer)s (%(ref)s)") % words
        body = gettext("%(customer)s was let down at %(location)s: %(summary)s Their file is flagged so whoever "
                       "serves them next knows. %(owner)s owns the recovery.") % words
    elif kind == Kind.HEADS_UP:
        words["left"] = _minutes(incident.organization.heads_up_before)
        title = gettext("%(ref)s: %(left)s minutes left to fix it or follow up with %(customer)s") % words
        body = gettext("By %(deadline)s, fix it or tell %(customer)s how it is going. A follow-up to the customer "
                       "meets the clock.") % words
    elif kind == Kind.WINDOW_MISSED:
        title = gettext("%(ref)s: the %(window)s-minute window passed") % words
        body = gettext("Nothing was recorded for %(customer)s by %(deadline)s. Follow up with them now; "
                       "your manager has been told.") % words
    elif kind == Kind.ESCALATION and missed_day:
        words["day"] = date_format(missed_day, "D d M")
        title = gettext("%(ref)s: no progress report to %(customer)s on %(day)s") % words
        body = gettext("%(owner)s owns the recovery for %(customer)s at %(location)s: %(summary)s It is still not "
                       "fixed, and the day's progress report was not sent by closing. Step in, reassign it or "
                       "bring in help.") % words
    elif kind == Kind.ESCALATION:
        if escalated_to_admins:
            words["later"] = _minutes(incident.organization.escalate_after)
            title = gettext("%(ref)s is still untouched %(later)s minutes after its window") % words
        else:
            title = gettext("%(ref)s missed its %(window)s-minute window") % words
        body = gettext("%(owner)s owns the recovery for %(customer)s at %(location)s: %(summary)s No fix or "
                       "follow-up was recorded by %(deadline)s. Step in, reassign it or bring in help.") % words
    elif kind == Kind.PROGRESS_REPORT:
        title = gettext("%(ref)s: send %(customer)s a progress report") % words
        words["since"] = date_format(_local(incident.logged_at, incident), "D d M")
        # One reminder a day, in step with the day's draft: unsent by closing, the report is missed
        # and the managers hear of it (PROGRESS_MISSED), so the owner is not nagged twice for it.
        body = gettext("Open since %(since)s. A short update today tells %(customer)s you have not forgotten "
                       "them: today's report waits as a draft on the incident page. Write the next step, check it "
                       "and send it (or record a call as a progress follow-up) before closing.") % words
    elif kind == Kind.PROGRESS_MISSED:
        words["day"] = date_format(missed_day, "D d M")
        title = gettext("%(ref)s: %(customer)s had no progress report on %(day)s") % words
        body = gettext("The day's report was not sent by closing, so your manager has been told. "
                       "Tomorrow's draft is ready in the morning: send it, or call %(customer)s.") % words
    elif kind == Kind.CHECK_BACK:
        title = gettext("%(ref)s: check back with %(customer)s") % words
        words["fixed"] = date_format(_local(incident.fixed_at, incident), "D d M")
        body = gettext("Fixed on %(fixed)s. Check that all is still well and record the post-fix follow-up.") % words
    elif kind == Kind.WRAP_UP:
        title = gettext("%(ref)s: the wrap-up note to %(customer)s is due") % words
        body = gettext("Thank them and look forward to serving them again. A draft is below: make it yours "
                       "before you send it, then record the wrap-up follow-up.")
        draft = selectors.wrap_up_draft(incident)
    else:  # pragma: no cover - every kind is listed above
        raise ValueError(kind)
    return title, body, draft


# --- Writing and sending -------------------------------------------------------------------------


def create_notifications(incident, reminder, messages, *, now):
    """Inbox rows for `messages` [(recipient, kind, extra compose options)], one per recipient,
    with an email Delivery for each recipient who has an address. Returns the ids of the deliveries that
    may go now (the rest wait for their recipient to be on duty)."""
    notifications = []
    seen = set()
    for recipient, kind, options in messages:
        if recipient.pk in seen:  # the owner who is also a manager hears it once
            continue
        seen.add(recipient.pk)
        with languages.speaking_to(recipient, incident.organization):  # each in their own language
            title, body, draft = compose(kind, incident, **options)
        notifications.append(
            Notification(
                recipient=recipient,
                incident=incident,
                reminder=reminder,
                kind=kind,
                title=title[:200],
                body=body,
                draft=draft,
                created_at=now,
                dedupe_key=f"{incident.pk}.{reminder.kind}.{reminder.due_at:%Y%m%dT%H%M%S%f}.{recipient.pk}",
            )
        )
    created = Notification.objects.bulk_create(notifications)  # fills primary keys on PostgreSQL and SQLite
    emailed = [notification for notification in created if notification.recipient.email]
    held = {} if reminder.kind in AT_ONCE else held_until_on_duty(emailed, incident, now)
    return email_deliveries(emailed, held=held, now=now)


def create_plain_notifications(recipients, *, kind, title, body, dedupe_key, now, incident=None, link=""):
    """Inbox rows with the words already written (another app's news: a problem's action due, say),
    one per active recipient, each with an email Delivery when they have an address. `dedupe_key` is
    made unique per recipient here; a key written before is skipped, so a repeated pass tells nobody
    twice. Returns the ids of the deliveries that may go now (the rest wait for their recipient to be on
    duty)."""
    people = {person.pk: person for person in recipients if person.is_active}
    keys = {pk: f"{dedupe_key}.{pk}"[:200] for pk in people}
    already = set(Notification.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True))
    created = Notification.objects.bulk_create(
        Notification(recipient=person, incident=incident, link=link, kind=kind, title=title[:200], body=body,
                     created_at=now, dedupe_key=keys[pk])
        for pk, person in people.items() if keys[pk] not in already
    )
    emailed = [notification for notification in created if notification.recipient.email]
    # Not the twenty-minute clock: an email to someone off duty waits for their next opening, as a reminder's does.
    return email_deliveries(emailed, held=held_until_on_duty(emailed, incident, now), now=now)


def inbox_url():
    return settings.SITE_URL.rstrip("/") + reverse("followups:inbox")


def send_email(notification):
    """Send one notification by email. The dedupe key is the Message-ID: a copy sent again after a
    crash between sending and recording it carries the same id, so mail servers can drop it."""
    # A notification not about one incident (a problem's action, say) leads to its `link`, made absolute.
    link_url = settings.SITE_URL.rstrip("/") + notification.link if notification.link.startswith("/") else notification.link
    context = {"notification": notification, "incident": notification.incident, "inbox_url": inbox_url(),
               "link_url": link_url}
    with languages.speaking_to(notification.recipient, notification.incident and notification.incident.organization):  # the email around the words, in their language too
        message = EmailMultiAlternatives(
            # A name stored before line breaks were refused would make the mail library refuse the header,
            # and every email about that incident with it.
            subject=one_line(f"[Recovery] {notification.title}"),
            body=render_to_string("emails/notification.txt", context),
            to=[notification.recipient.email],
            headers={
                "Message-ID": f"<{notification.dedupe_key}@recovery>",
                "X-Recovery-Dedupe-Key": notification.dedupe_key,
            },
        )
        message.attach_alternative(render_to_string("emails/notification.html", context), "text/html")
    message.send(fail_silently=False)
