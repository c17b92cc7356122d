"""The daily progress report: drafted each morning in the location's opening hours, edited and sent
by the owner in one click (or by itself at the organization's hour), and a missed clock escalated to
the managers when a day ends with it unsent. Driven on moved clocks."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from django.utils.duration import duration_string

from followups import services as followup_services
from followups.models import Notification, Reminder
from incidents import services as incident_services
from incidents.models import EventKind, FollowUp
from organization_settings import forms as settings_forms
from outreach import progress_reports, progress_tasks
from outreach.models import Message
from tests import factories
from tests.conftest import START  # Wednesday 4 March 2026, 14:00 UTC; the location is on UTC, open 9–18

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)
THURSDAY, FRIDAY, SATURDAY = (datetime.date(2026, 3, day) for day in (5, 6, 7))


@pytest.fixture
def recovery(incident, frontline):
    """Apologized for, reviewed, work in progress: a recovery that will run for days."""
    incident_services.record_apology(incident, by=frontline, channel="in_person", text="I am so sorry.")
    incident_services.record_review(incident, by=frontline, customer_account="Lost luggage",
                                    customer_needs="Their suitcase back")
    incident_services.record_fix(incident, by=frontline, description="Asked the airline to trace the suitcase",
                                 fixed=False)
    incident.refresh_from_db()
    return incident


@pytest.fixture
def pass_at(clock_at_start):
    """Move the clock to `offset` after Wednesday 14:00 and run one progress pass there."""

    def run(offset):
        clock_at_start.move_to(START + offset)
        return progress_reports.run_pass(now=timezone.now())

    return run


def reports(incident):
    return Message.objects.filter(incident=incident, kind=Message.Kind.PROGRESS_REPORT).order_by("for_day")


def todays_draft(incident):
    return progress_reports.open_draft(incident)


# --- Drafting --------------------------------------------------------------------------------------


def test_a_recovery_open_three_days_gets_three_reports_drafted_inside_opening_hours_never_twice(recovery, pass_at):
    for half_hours in range(1, 3 * 48 + 1):  # every half hour from Wednesday 14:30 to Saturday 14:00
        pass_at(half_hours * 30 * MINUTE)
    drafted = list(reports(recovery))
    assert [report.for_day for report in drafted] == [THURSDAY, FRIDAY, SATURDAY]
    # Thursday's once it was open a day (14:00); Friday's and Saturday's at opening.
    assert [report.created_at for report in drafted] == [
        START + DAY, datetime.datetime(2026, 3, 6, 9, 0, tzinfo=datetime.timezone.utc),
        datetime.datetime(2026, 3, 7, 9, 0, tzinfo=datetime.timezone.utc)]
    assert all(9 <= report.created_at.hour < 18 for report in drafted)


def test_nothing_is_drafted_before_a_day_or_at_night(recovery, pass_at):
    assert pass_at(DAY - MINUTE).drafted == 0  # Thursday 13:59: open less than a day
    assert not reports(recovery).exists()
    assert pass_at(DAY).drafted == 1


def test_a_recovery_logged_after_closing_waits_for_the_morning_after_its_first_day(frontline, location, customer,
                                                                                    pass_at, clock_at_start):
    clock_at_start.move_to(START + 6 * HOUR)  # Wednesday 20:00, closed
    late = factories.log_incident(user=frontline, location=location, customer=customer)
    for offset in (DAY + 6 * HOUR, DAY + 9 * HOUR, DAY + 12 * HOUR, DAY + 19 * HOUR - MINUTE):  # Thu 20:00 … Fri 08:59
        assert pass_at(offset).drafted == 0
    assert pass_at(DAY + 19 * HOUR).drafted == 1  # Friday 09:00, opening
    assert reports(late).get().for_day == FRIDAY


def test_a_second_pass_at_the_same_moment_drafts_nothing(recovery, pass_at):
    assert pass_at(DAY).drafted == 1
    assert pass_at(DAY).drafted == 0
    assert pass_at(DAY + HOUR).drafted == 0
    assert reports(recovery).count() == 1


def test_two_passes_racing_for_the_same_day_make_one_draft(recovery, clock_at_start):
    clock_at_start.move_to(START + DAY)
    now = timezone.now()
    first = progress_reports.draft_report(recovery, now=now)
    second = progress_reports.draft_report(recovery, now=now)  # read "not drafted" before the first committed
    assert first is not None and second is None
    assert reports(recovery).count() == 1


def test_one_recovery_that_cannot_be_drafted_holds_back_no_other(recovery, frontline, location, pass_at, monkeypatch):
    other = factories.log_incident(user=frontline, location=location)
    real = progress_reports.draft_text

    def broken_for_the_first(incident, **options):
        if incident.pk == recovery.pk:
            raise ValueError("a row nobody can draft")
        return real(incident, **options)

    monkeypatch.setattr(progress_reports, "draft_text", broken_for_the_first)
    assert pass_at(DAY).drafted == 1
    assert reports(other).count() == 1 and not reports(recovery).exists()


def test_the_draft_says_what_was_done_where_it_stands_and_the_next_step_in_the_owners_name(recovery, frontline, pass_at):
    incident_services.give_gesture(recovery, by=frontline, kind="gift", description="A toiletry bag for tonight",
                                   cost=Decimal("10"))
    pass_at(DAY)
    body = todays_draft(recovery).body
    assert body.startswith("Dear Ada Lovelace,")
    assert "- Asked the airline to trace the suitcase" in body
    assert "- A toiletry bag for tonight" in body
    assert "I will write again tomorrow" in body
    assert body.rstrip().endswith(f"{frontline.display_name()}\nRiverside")
    assert todays_draft(recovery).author == frontline


def test_the_next_days_draft_tells_only_what_happened_since_the_last_report(recovery, frontline, pass_at, clock_at_start):
    pass_at(DAY)
    progress_reports.send_report(todays_draft(recovery), by=frontline, body=todays_draft(recovery).body,
                                 next_step="Call the airline's lost luggage desk")
    clock_at_start.move_to(START + DAY + 2 * HOUR)
    incident_services.record_fix(recovery, by=frontline, description="The airline found it in Madrid", fixed=False)
    pass_at(DAY + 19 * HOUR)  # Friday 09:00
    body = todays_draft(recovery).body
    assert "since my last update" in body
    assert "- The airline found it in Madrid" in body
    assert "trace the suitcase" not in body
    assert "What I will do next: Call the airline's lost luggage desk" in body


def test_markup_in_a_note_stays_text(recovery, frontline, pass_at, client):
    incident_services.record_fix(recovery, by=frontline, description="<b>Traced</b> <script>alert(1)</script>", fixed=False)
    pass_at(DAY)
    assert "<b>Traced</b> <script>alert(1)</script>" in todays_draft(recovery).body
    client.force_login(frontline)
    page = client.get(reverse("incident", args=[recovery.reference])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_fixed_recovery_needs_no_report(recovery, frontline, pass_at):
    incident_services.record_fix(recovery, by=frontline, description="Suitcase delivered", fixed=True)
    assert pass_at(DAY).drafted == 0


def test_a_call_this_morning_already_told_the_customer(recovery, frontline, pass_at, clock_at_start):
    clock_at_start.move_to(START + DAY - 4 * HOUR)  # Thursday 10:00
    incident_services.record_follow_up(recovery, by=frontline, kind="progress", channel="phone", note="Called her")
    assert pass_at(DAY).drafted == 0


# --- Sending ---------------------------------------------------------------------------------------


def test_sending_the_report_puts_it_in_the_outbox_scheduled_and_records_the_progress_follow_up(recovery, frontline, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    message = progress_reports.send_report(draft, by=frontline, body=draft.body + "\nSpeak soon.",
                                           next_step="Collect it from the airport")
    message.refresh_from_db()
    assert message.status == Message.Status.SCHEDULED
    assert message.scheduled_for == START + DAY and message.next_attempt_at == START + DAY
    assert message.author == frontline and message.to == "ada@example.com"
    assert message.body.endswith("Speak soon.")
    recovery.refresh_from_db()
    assert recovery.next_step == "Collect it from the airport"
    follow_up = recovery.follow_ups.get(kind=FollowUp.Kind.PROGRESS)
    assert follow_up.note == message.body and follow_up.channel == "email"
    with pytest.raises(progress_reports.ReportError):  # one click sends it once
        progress_reports.send_report(draft, by=frontline, body=draft.body, next_step="")


def test_a_customer_who_opted_out_is_not_sent_the_report_and_nothing_is_written(recovery, frontline, pass_at):
    pass_at(DAY)
    recovery.customer.opted_out_at = timezone.now()
    recovery.customer.save()
    with pytest.raises(progress_reports.ReportError, match="asked not to be messaged"):
        progress_reports.send_report(todays_draft(recovery), by=frontline, body="Hello", next_step="Call her")
    assert todays_draft(recovery).status == Message.Status.DRAFT
    recovery.refresh_from_db()
    assert recovery.next_step == "" and not recovery.follow_ups.filter(kind="progress").exists()


def test_only_the_people_on_the_recovery_and_its_managers_write_the_report(recovery, colleague, manager, organization,
                                                                            other_location, pass_at):
    pass_at(DAY)
    with pytest.raises(incident_services.NotAllowed):
        progress_reports.save_report(todays_draft(recovery), by=colleague, body="Mine", next_step="")
    elsewhere = factories.UserFactory(organization=organization, role="manager", locations=[other_location])
    with pytest.raises(incident_services.NotAllowed):
        progress_reports.save_report(todays_draft(recovery), by=elsewhere, body="Mine", next_step="")
    progress_reports.save_report(todays_draft(recovery), by=manager, body="From the manager", next_step="")
    assert todays_draft(recovery).body == "From the manager"


def test_an_untouched_draft_takes_the_new_next_step_and_an_edited_one_keeps_the_owners_words(recovery, frontline, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    progress_reports.save_report(draft, by=frontline, body=draft.body, next_step="Ring the airline at 4")
    assert "What I will do next: Ring the airline at 4" in todays_draft(recovery).body
    progress_reports.save_report(draft, by=frontline, body="My own words.", next_step="Ring again at 5")
    assert todays_draft(recovery).body == "My own words."
    assert recovery.events.filter(kind=EventKind.DETAILS_CHANGED).count() == 2


# --- The missed clock ------------------------------------------------------------------------------


def test_a_report_unsent_by_closing_is_missed_and_escalated_once(recovery, frontline, manager, pass_at):
    pass_at(DAY)
    assert pass_at(DAY + 4 * HOUR - MINUTE).missed == 0  # Thursday 17:59: still time
    assert pass_at(DAY + 4 * HOUR).missed == 1  # 18:00, closing
    assert pass_at(DAY + 4 * HOUR).missed == 0
    assert pass_at(DAY + 5 * HOUR).missed == 0
    thursday = reports(recovery).get(for_day=THURSDAY)
    assert thursday.status == Message.Status.NOT_SENT and "missed" in thursday.status_note
    escalation = Notification.objects.get(recipient=manager, kind=Notification.Kind.ESCALATION)
    assert escalation.title == f"{recovery.reference}: no progress report to Ada Lovelace on Thu 05 Mar"
    assert Notification.objects.filter(recipient=frontline, kind=Notification.Kind.PROGRESS_MISSED).count() == 1
    event = recovery.events.get(kind=EventKind.ESCALATED)
    assert event.summary.startswith("No progress report to the customer on Thu 05 Mar: escalated to")
    assert event.after["to"] == ["mona"]
    assert Reminder.objects.get(incident=recovery, kind=Reminder.Kind.PROGRESS_MISSED).due_at == START + DAY + 4 * HOUR


def test_managers_see_the_missed_report_on_the_incident_page(recovery, manager, pass_at, client):
    pass_at(DAY)
    pass_at(DAY + 4 * HOUR + 30 * MINUTE)  # Thursday 18:30
    client.force_login(manager)
    page = client.get(reverse("incident", args=[recovery.reference])).content.decode()
    assert "Not sent by the end of Thu 05 Mar: a missed progress report." in page
    assert "No progress report to the customer on Thu 05 Mar: escalated to" in page  # the timeline


def test_a_sent_report_is_not_missed(recovery, frontline, manager, pass_at):
    pass_at(DAY)
    progress_reports.send_report(todays_draft(recovery), by=frontline, body="Still on it.", next_step="Call tomorrow")
    assert pass_at(DAY + 5 * HOUR).missed == 0
    assert not Notification.objects.filter(recipient=manager, kind=Notification.Kind.ESCALATION).exists()


def test_a_day_reported_by_phone_is_not_missed(recovery, frontline, manager, pass_at, clock_at_start):
    pass_at(DAY)
    clock_at_start.move_to(START + DAY + HOUR)
    incident_services.record_follow_up(recovery, by=frontline, kind="progress", channel="phone", note="Called her")
    assert pass_at(DAY + 5 * HOUR).missed == 0
    assert "another way" in reports(recovery).get(for_day=THURSDAY).status_note
    assert not recovery.events.filter(kind=EventKind.ESCALATED).exists()


def test_a_day_that_ended_cannot_be_sent_any_more(recovery, frontline, pass_at, clock_at_start):
    pass_at(DAY)
    draft = todays_draft(recovery)
    clock_at_start.move_to(START + DAY + 4 * HOUR)  # closing, before the pass has closed it
    with pytest.raises(progress_reports.ReportError, match="that day has ended|already"):
        progress_reports.send_report(draft, by=frontline, body="Late", next_step="")


def test_the_owners_reminder_comes_once_a_day_with_the_draft(recovery, frontline, clock_at_start):
    """Each day's report sent at 15:00: the engine reminds the owner when each draft is made, and
    never a second time for the same day."""
    for half_hours in range(1, 3 * 48 + 1):
        clock_at_start.move_to(START + half_hours * 30 * MINUTE)
        now = timezone.now()
        progress_reports.run_pass(now=now)
        followup_services.sweep(now=now)
        draft = todays_draft(recovery)
        if draft and now.hour == 15:
            progress_reports.send_report(draft, by=frontline, body=draft.body, next_step="Keep at it")
    drafted_at = [report.created_at for report in reports(recovery)]
    reminded_at = list(Reminder.objects.filter(incident=recovery, kind="progress_report").order_by("due_at")
                       .values_list("due_at", flat=True))
    assert reminded_at == drafted_at and len(drafted_at) == 3
    assert not Reminder.objects.filter(incident=recovery, kind=Reminder.Kind.PROGRESS_MISSED).exists()


def test_the_owners_reminder_points_at_the_draft(recovery, frontline, pass_at):
    pass_at(DAY)
    followup_services.sweep(now=timezone.now())
    reminder = Notification.objects.get(recipient=frontline, kind=Notification.Kind.PROGRESS_REPORT)
    assert "waits as a draft" in reminder.body


# --- Sending by itself -----------------------------------------------------------------------------


@pytest.fixture
def sends_at_four(organization):
    organization.progress_reports_send_at = datetime.time(16, 0)
    organization.save()


def test_with_the_setting_the_report_goes_by_itself_at_the_hour_once_todays_next_step_is_written(
        sends_at_four, recovery, frontline, pass_at, clock_at_start):
    pass_at(DAY)
    assert pass_at(DAY + 2 * HOUR).sent_by_themselves == 0  # 16:00, but no next step written today
    clock_at_start.move_to(START + DAY + 2 * HOUR + MINUTE)
    draft = todays_draft(recovery)
    progress_reports.save_report(draft, by=frontline, body=draft.body, next_step="Fetch it from the airport")
    assert pass_at(DAY + 2 * HOUR + 5 * MINUTE).sent_by_themselves == 1
    message = reports(recovery).get(for_day=THURSDAY)
    assert message.status == Message.Status.SCHEDULED and message.author == frontline
    assert "Fetch it from the airport" in message.body
    assert recovery.follow_ups.filter(kind="progress").count() == 1
    assert pass_at(DAY + 2 * HOUR + 10 * MINUTE).sent_by_themselves == 0


def test_yesterdays_next_step_does_not_send_todays_report(sends_at_four, recovery, frontline, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    progress_reports.send_report(draft, by=frontline, body=draft.body, next_step="Call the airline")
    pass_at(DAY + 19 * HOUR)  # Friday 09:00: a new draft, and Thursday's next step
    assert pass_at(DAY + 26 * HOUR).sent_by_themselves == 0  # Friday 16:00
    assert todays_draft(recovery).for_day == FRIDAY


def test_without_the_setting_nothing_goes_by_itself(recovery, frontline, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    progress_reports.save_report(draft, by=frontline, body=draft.body, next_step="Call the airline")
    assert pass_at(DAY + 3 * HOUR).sent_by_themselves == 0
    assert todays_draft(recovery).status == Message.Status.DRAFT


def test_the_organization_settings_page_sets_the_hour(client, admin, organization):
    client.force_login(admin)
    form = settings_forms.OrganizationForm(instance=organization)
    data = {name: form[name].value() for name in form.fields}
    data = {name: duration_string(value) if isinstance(value, datetime.timedelta) else value
            for name, value in data.items() if value is not None}
    data["progress_reports_send_at"] = "16:30"
    answer = client.post("/settings/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    organization.refresh_from_db()
    assert organization.progress_reports_send_at == datetime.time(16, 30)
    data["progress_reports_send_at"] = "25:99"
    answer = client.post("/settings/", data)
    assert answer.status_code == 400 and "25:99" in answer.content.decode()


# --- The pages -------------------------------------------------------------------------------------


@pytest.fixture
def fran_client(client, frontline):
    client.force_login(frontline)
    return client


def report_url(incident):
    return reverse("progress_report", args=[incident.reference])


def test_the_owner_sees_the_draft_on_the_home_page_and_the_incident_page(recovery, fran_client, pass_at):
    home = fran_client.get(reverse("home")).content.decode()
    assert "progress report" not in home
    pass_at(DAY)
    home = fran_client.get(reverse("home")).content.decode()
    assert "progress report to Ada Lovelace is drafted" in home
    page = fran_client.get(reverse("incident", args=[recovery.reference])).content.decode()
    assert 'id="progress-report-form"' in page and "Asked the airline to trace the suitcase" in page


def test_send_in_one_click_from_the_incident_page(recovery, fran_client, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    answer = fran_client.post(report_url(recovery), {"draft": draft.pk, "body": "All in hand.", "next_step": "Call at 5",
                                                     "send": "1"})
    assert answer.status_code == 302 and answer["Location"].endswith("#progress-report")
    draft.refresh_from_db()
    assert draft.status == Message.Status.SCHEDULED and draft.body == "All in hand."


def test_a_refused_send_keeps_what_was_typed(recovery, fran_client, pass_at):
    pass_at(DAY)
    draft = todays_draft(recovery)
    answer = fran_client.post(report_url(recovery), {"draft": draft.pk, "body": "", "next_step": "Call at 5", "send": "1"})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Write the report before saving or sending it." in page and "Call at 5" in page
    assert todays_draft(recovery).status == Message.Status.DRAFT


@pytest.mark.parametrize("draft", ["abc", "", "-1", str(10**30), "987654"])
def test_a_bad_draft_id_is_a_clear_400(recovery, fran_client, pass_at, draft):
    pass_at(DAY)
    answer = fran_client.post(report_url(recovery), {"draft": draft, "body": "Hello", "next_step": "", "send": "1"})
    assert answer.status_code == 400
    assert todays_draft(recovery).status == Message.Status.DRAFT


@pytest.mark.parametrize("field, value", [("body", "Nul\x00byte"), ("body", "x" * 5001), ("next_step", "\x07bell"),
                                          ("next_step", "y" * 2001)])
def test_hostile_text_is_refused_by_field_and_nothing_is_saved(recovery, fran_client, pass_at, field, value):
    pass_at(DAY)
    draft = todays_draft(recovery)
    data = {"draft": draft.pk, "body": "Hello", "next_step": "Call", "save": "1", field: value}
    answer = fran_client.post(report_url(recovery), data)
    assert answer.status_code == 400
    assert todays_draft(recovery).body == draft.body
    recovery.refresh_from_db()
    assert recovery.next_step == ""


def test_a_colleague_who_is_not_on_the_recovery_is_refused(recovery, colleague, client, pass_at):
    pass_at(DAY)
    client.force_login(colleague)
    page = client.get(reverse("incident", args=[recovery.reference])).content.decode()
    assert 'id="progress-report-form"' not in page
    answer = client.post(report_url(recovery), {"draft": todays_draft(recovery).pk, "body": "Hi", "next_step": "",
                                                "send": "1"})
    assert answer.status_code == 400 and "Only the people on this recovery" in answer.content.decode()
    assert todays_draft(recovery).status == Message.Status.DRAFT


def test_another_organizations_report_is_not_found(recovery, client, pass_at):
    pass_at(DAY)
    stranger = factories.UserFactory(organization=factories.OrganizationFactory(slug="rival"))
    client.force_login(stranger)
    answer = client.post(report_url(recovery), {"draft": todays_draft(recovery).pk, "body": "Hi", "send": "1"})
    assert answer.status_code == 404


def test_the_beat_task_runs_the_pass(monkeypatch):
    monkeypatch.setattr(progress_reports, "run_pass", lambda: progress_reports.PassReport(drafted=2, missed=1))
    assert progress_tasks.run_progress_reports() == {"drafted": 2, "missed": 1, "sent": 0}



# --- Two beats at once (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two passes at once need PostgreSQL's concurrent writers")
def test_two_passes_at_once_draft_once_and_escalate_once(organization, location, frontline, manager, monkeypatch):
    monkeypatch.setattr(followup_services, "_publish", lambda delivery_ids: None)  # no real broker
    incidents = [factories.log_incident(user=frontline, location=location, now=START) for _ in range(15)]

    def both_at(now):
        start = threading.Barrier(2)
        results = []

        def run():
            try:
                start.wait()
                results.append(progress_reports.run_pass(now=now))
            except Exception as error:  # surfaced below
                results.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not [result for result in results if isinstance(result, Exception)], results
        return results

    drafted = both_at(START + DAY)
    assert sum(result.drafted for result in drafted) == 15
    assert Message.objects.filter(kind=Message.Kind.PROGRESS_REPORT).count() == 15
    missed = both_at(START + DAY + 4 * HOUR)
    assert sum(result.missed for result in missed) == 15
    for incident in incidents:
        assert incident.events.filter(kind=EventKind.ESCALATED).count() == 1
    assert Notification.objects.filter(recipient=manager, kind=Notification.Kind.ESCALATION).count() == 15
