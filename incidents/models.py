"""The recovery record: organizations, their people and customers, incidents and the record of each step.

Models hold fields, constraints and choices. Every write that matters to the recovery goes through
`incidents.services`, which enforces the order of the steps, moves the clocks and writes the timeline.
"""

import datetime
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _, gettext
from django.db.models.functions import Upper
import holidays
from phonenumber_field.modelfields import PhoneNumberField

from incidents import clock
from incidents.calendar import zone_named


class Channel(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    WEB = "web", _("Web")
    LETTER = "letter", _("Letter")
    OTHER = "other", _("Other")


class Busyness(models.TextChoices):
    QUIET = "quiet", _("Quiet")
    NORMAL = "normal", _("Normal")
    BUSY = "busy", _("Busy")
    # xgettext:no-python-format
    PEAK = "peak", _("Peak (above 90% capacity)")


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Stage(models.TextChoices):
    """The next thing the recovery needs, in the order of the method."""

    APOLOGY = "apology", _("Apologize")
    REVIEW = "review", _("Review the complaint")
    FIX = "fix", _("Fix it")
    DOCUMENT = "document", _("Document it")
    WRAP_UP = "wrap_up", _("Send the wrap-up")
    OUTCOME = "outcome", _("Record the outcome")
    CLOSED = "closed", _("Closed")


class Outcome(models.TextChoices):
    CHAMPION = "champion", _("Champion")
    RETAINED = "retained", _("Retained")
    PARTIAL = "partial", _("Partially recovered")
    LOST = "lost", _("Lost")


# The outcomes that kept the customer: their lifetime value is "value kept" on the scorecard.
KEPT = (Outcome.CHAMPION, Outcome.RETAINED)


def validate_time_zone(name):
    """Every clock of a location is read in its time zone: only names the zone database knows."""
    if name not in zoneinfo.available_timezones():
        raise ValidationError(gettext("Choose a time zone from the list, e.g. Europe/London."), code="unknown_time_zone")


def holiday_subdivisions(country):
    """The subdivisions (states, regions) the `holidays` package knows for a country code."""
    return holidays.list_supported_countries().get(country, [])


def validate_holiday_country(code):
    if code and code not in holidays.list_supported_countries():
        raise ValidationError(_("Choose a country from the list."), code="unknown_holiday_country")


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    currency = models.CharField(max_length=3, default="USD", help_text=_("ISO 4217 code for money amounts."))
    # The clocks of the method; every window is a setting of the organization.
    follow_up_window = models.DurationField(
        default=datetime.timedelta(minutes=20),
        help_text=_("Fix it, or follow up with the customer, within this window after logging."),
    )
    heads_up_before = models.DurationField(
        default=datetime.timedelta(minutes=5), help_text=_("Warn the owner this long before the window ends.")
    )
    escalate_after = models.DurationField(
        default=datetime.timedelta(minutes=15),
        help_text=_("After a missed window, tell the organization's admins if still untouched after this long."),
    )
    progress_report_every = models.DurationField(
        default=datetime.timedelta(days=1), help_text=_("Progress report to the customer while not fixed.")
    )
    check_back_after = models.DurationField(
        default=datetime.timedelta(days=1), help_text=_("Check back with the customer this long after the fix.")
    )
    wrap_up_after = models.DurationField(
        default=datetime.timedelta(days=2), help_text=_("Send the wrap-up note this long after the fix.")
    )
    satisfaction_check_after = models.DurationField(
        default=datetime.timedelta(days=1),
        help_text=_("Ask the customer how they feel about us this long after the wrap-up note went out."),
    )
    progress_reports_send_at = models.TimeField(
        null=True, blank=True,
        help_text=_("If set, a day's progress report goes by itself at this local hour once its owner has written "
                  "the next step; empty: owners send each one."),
    )
    # No message to a customer goes out at night on their location's clock; one due then waits for the morning.
    quiet_hours_start = models.TimeField(default=datetime.time(21, 0))
    quiet_hours_end = models.TimeField(default=datetime.time(8, 0))
    problem_watch_period = models.DurationField(
        default=datetime.timedelta(weeks=4),
        help_text=_("A fixed problem is watched this long without recurrence before closing it is proposed."),
    )
    # How long "Take special care" shows after a failure unless someone clears it sooner. A change moves
    # every open flag's expiry at once (services.customers.care_flag_period_changed).
    care_flag_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1, message=_("A care flag lasts at least 1 day.")),
                    MaxValueValidator(730, message=_("A care flag lasts at most 730 days (two years)."))],
        help_text=_("Days a customer's care flag shows after a failure, unless someone clears it sooner (1 to 730)."),
    )
    # Kept by problems.services as problems gain or lose a pattern: an organization with none skips the
    # matching of each new incident (no query), one with some pays one query.
    problem_patterns = models.PositiveIntegerField(default=0, editable=False,
                                                   help_text=_("How many of its problems have a pattern to match new incidents against."))
    default_discretion_budget = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What each person may give one customer without asking a manager."),
    )
    two_factor_required = models.BooleanField(
        default=False,
        help_text=_("Managers and admins, who see customers across locations, must sign in with an authenticator app."),
    )
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default="en",
        help_text=_("Messages to a customer whose language is not known are written in it, and staff without "
                  "a language of their own are written to in it."),
    )

    def __str__(self):
        return self.name


class Location(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=50, help_text=_("Short code used by the API, e.g. 'riverside'."))
    region = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text=_("IANA name, e.g. Europe/London."),
                                validators=[validate_time_zone])
    # The daily window a location had before its weekly schedule. The clocks read it only for a location with
    # no WeeklySpan at all (one made by a script or an old fixture); the settings page writes the week.
    opens_at = models.TimeField(default=datetime.time(9, 0))
    closes_at = models.TimeField(default=datetime.time(18, 0))
    holiday_country = models.CharField(_("public holidays of"), max_length=3, blank=True, validators=[validate_holiday_country],
                                       help_text=_("Country whose public holidays close the location; empty: none."))
    holiday_subdivision = models.CharField(_("holiday region"), max_length=10, blank=True,
                                           help_text=_("State, province or region of that country, for its own holidays."))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="location_code_unique")]
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self):
        """The location's time zone; UTC for a name the zone database does not know (a row saved before
        every door checked it), so the location's pages answer instead of failing."""
        return zone_named(self.timezone)

    def clean(self):
        super().clean()
        if self.holiday_subdivision:
            if not self.holiday_country:
                raise ValidationError({"holiday_subdivision": _("Choose the country first.")}, code="no_country")
            if self.holiday_subdivision not in holiday_subdivisions(self.holiday_country):
                raise ValidationError({"holiday_subdivision": _("That region is not one of the country's.")},
                                      code="unknown_holiday_region")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklySpan(models.Model):
    """One span of a location's week: open from `opens` to `closes` on `weekday`. A span that closes at or
    before its opening runs past midnight into the next day; 00:00–00:00 is open round the clock.
    Written only by organization_settings.services.save_location, which refuses overlaps."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="weekly_spans")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="weekly_span_weekday"),
            models.UniqueConstraint(fields=["location", "weekday", "opens"], name="weekly_span_once"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class CalendarException(models.Model):
    """A dated change to a location's week: closed that day (no times), or open only in the spans given
    (one row per span: closing early, a special opening on a holiday)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="calendar_exceptions")
    date = models.DateField()
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["date", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(opens__isnull=True, closes__isnull=True)
                                   | Q(opens__isnull=False, closes__isnull=False), name="calendar_exception_times"),
        ]

    def __str__(self):
        if self.opens is None:
            return f"{self.date:%Y-%m-%d} closed"
        return f"{self.date:%Y-%m-%d} {self.opens:%H:%M}–{self.closes:%H:%M}"


class User(AbstractUser):
    """A member of staff. Superusers may have no organization."""

    class Role(models.TextChoices):
        FRONTLINE = "frontline", _("Frontline")
        MANAGER = "manager", _("Manager")
        ADMIN = "admin", _("Organization admin")

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="staff", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.FRONTLINE)
    locations = models.ManyToManyField(Location, related_name="staff", blank=True)
    discretion_budget = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Per customer; empty means the organization's default."),
    )
    language = models.CharField(
        max_length=10, blank=True, choices=settings.LANGUAGES,
        help_text=_("The language of the pages and of what is written to them; empty: their browser's."),
    )

    @property
    def is_manager(self):
        return self.role in (self.Role.MANAGER, self.Role.ADMIN)

    @property
    def is_operator(self):
        """One of the service's operators (the admin's users): a superuser of no organization."""
        return self.is_superuser and self.organization_id is None

    def display_name(self):
        return self.get_full_name() or self.username


class CoachPhrase(models.Model):
    """A phrase the apology coach points out, with warmer wording to use instead."""

    class Kind(models.TextChoices):
        CONDITIONAL = "conditional", _("Conditional apology")
        DISMISSIVE = "dismissive", _("Sounds like an order to move on")
        DEFENSIVE = "defensive", _("Defends the company")
        POLICY = "policy", _("Policy language")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="coach_phrases")
    # An apology is checked against the phrases of the language it is spoken in (incidents.coach).
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    phrase = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    suggestion = models.CharField(max_length=300)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "language", "phrase"],
                                               name="coach_phrase_unique_in_language")]
        ordering = ["language", "phrase"]

    def __str__(self):
        return self.phrase


def care_flag_open_condition(now):
    """An open care flag, as a query: raised and not yet expired. The same rule as Customer.care_flag_open_at."""
    return Q(care_flag=True, care_flag_expires_at__gt=now)


class CustomerQuerySet(models.QuerySet):
    def care_flag_open(self, now):
        return self.filter(care_flag_open_condition(now))


class Customer(models.Model):
    objects = CustomerQuerySet.as_manager()

    # No index of its own: the indexes below start with the organization.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="customers", db_index=False)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    # E.164 (incidents.phones): a text message and the customer search agree on what a number is.
    phone = PhoneNumberField(blank=True)
    # A number as given that could not be read as one (stored before numbers were checked): kept, not
    # lost, and shown on the customer's page for someone to correct.
    phone_as_given = models.CharField(max_length=40, blank=True, help_text=_("A phone number that could not be read as one."))
    external_id = models.CharField(max_length=100, blank=True, help_text=_("The customer's id in another system."))
    lifetime_value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Estimated value of the customer over the relationship."),
    )
    # The customer flag: whoever serves this customer next sees what happened and takes special care.
    care_flag = models.BooleanField(default=False)
    care_note = models.TextField(blank=True)
    care_flagged_at = models.DateTimeField(null=True, blank=True)
    # The flag is open while care_flag and now < care_flag_expires_at (`care_flag_open_at`,
    # `CustomerQuerySet.care_flag_open`): the expiry is written when the flag is raised and moved for the
    # whole organization when its care_flag_days changes, so a read compares one column and nothing sweeps.
    care_flag_expires_at = models.DateTimeField(null=True, blank=True)
    # Who said the customer had been served with care, and when: the customer's page shows it.
    care_flag_cleared_at = models.DateTimeField(null=True, blank=True)
    care_flag_cleared_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    # How they want to hear from us. Opted out: no message is sent to them at all.
    preferred_channel = models.CharField(
        max_length=10, blank=True, choices=[("email", _("Email")), ("sms", _("Text message"))],
        help_text=_("Empty: email if we have an address, else a text message."),
    )
    language = models.CharField(max_length=10, blank=True, help_text=_("Language code, e.g. en, de; empty if not known."))
    opted_out_at = models.DateTimeField(null=True, blank=True, help_text=_("Asked not to be messaged (unsubscribe, STOP)."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="customer_external_id_unique",
            )
        ]
        indexes = [
            # Serves the case-insensitive lookup by email (`email__iexact` compares UPPER(email)).
            models.Index("organization", Upper("email"), name="customer_email_any_case"),
            models.Index(fields=["organization", "phone"]),
        ]
        ordering = ["name"]

    def __str__(self):
        return self.name

    def care_flag_open_at(self, now):
        """Does "Take special care" still show at `now`? Raised, not cleared, not expired: the same rule as
        `care_flag_open_condition`, for a row in hand."""
        return bool(self.care_flag and self.care_flag_expires_at is not None and now < self.care_flag_expires_at)

    @property
    def care_flag_is_open(self):
        return self.care_flag_open_at(timezone.now())

    @property
    def care_flag_expired(self):
        """Raised, never cleared, and past its expiry: the customer's page says when it lapsed."""
        return bool(self.care_flag and self.care_flag_expires_at is not None and not self.care_flag_is_open)


class Category(models.Model):
    """A short free label for the product or service that failed; managers may merge labels later."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="category_name_unique")]
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class ReferenceOf(models.Func):
    """An incident's human reference, made from its id by the database as the row is inserted:
    R-000123, zero-padded to six digits and never cut short (R-1234567)."""

    arity = 1
    output_field = models.CharField(max_length=20)
    template = (
        "'R-' || CASE WHEN %(expressions)s < 1000000 THEN lpad(CAST(%(expressions)s AS text), 6, '0') "
        "ELSE CAST(%(expressions)s AS text) END"
    )

    def as_sqlite(self, compiler, connection, **extra):
        # SQLite has no lpad(); take the last six characters of a zero-prefixed number instead.
        template = (
            "'R-' || CASE WHEN %(expressions)s < 1000000 THEN substr('000000' || %(expressions)s, -6) "
            "ELSE CAST(%(expressions)s AS text) END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def late_condition(now):
    """Late, as a query: open, the twenty-minute window passed, and still no fix or follow-up (whether or
    not the sweep has noted the breach yet). The same rule as clock.clock_state's LATE."""
    return Q(closed_at__isnull=True, responded_at__isnull=True, follow_up_due_at__lt=now)


class IncidentQuerySet(models.QuerySet):
    def late(self, now):
        return self.filter(late_condition(now))


class Incident(models.Model):
    """One service failure suffered by one customer, and the state of its recovery."""

    objects = IncidentQuerySet.as_manager()

    # Three foreign keys skip their own index: the composite indexes below start with the same column
    # (organization, location, owner), and every index is one more write per incident logged.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="incidents", db_index=False)
    # Generated from the id in the INSERT itself and read back with RETURNING: no second write.
    reference = models.GeneratedField(
        expression=ReferenceOf("id"), output_field=models.CharField(max_length=20), db_persist=True
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="incidents")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="incidents", db_index=False)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="incidents", null=True, blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.MEDIUM)
    summary = models.TextField(help_text=_("What happened, in a sentence or two."))
    busyness = models.CharField(max_length=20, choices=Busyness.choices, blank=True)
    occurred_at = models.DateTimeField()
    logged_at = models.DateTimeField()
    logged_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="incidents_logged", null=True)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="incidents_owned", db_index=False)
    helpers = models.ManyToManyField(User, related_name="incidents_helping", blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text=_("The helpdesk ticket id."))
    form_token = models.UUIDField(null=True, blank=True, editable=False,
                                  help_text=_("The one-time token of the Log a failure form it was logged from."))
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.APOLOGY)

    # The twenty-minute clock: written when the incident is logged and when a step meets it.
    follow_up_due_at = models.DateTimeField()
    responded_at = models.DateTimeField(
        null=True, blank=True, help_text=_("First fix or follow-up to the customer.")
    )
    breached_at = models.DateTimeField(null=True, blank=True, help_text=_("When the missed window was noticed."))
    fixed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The earliest moment anything is due on this incident (a reminder, a deadline, an escalation).
    # Recomputed by every step; the follow-up sweep asks only "which open incidents are past this?".
    next_due_at = models.DateTimeField(null=True, blank=True)
    # The earliest promise to the customer still unkept (twenty-minute clock, progress report, check-back,
    # wrap-up), at its first time due: an overdue wrap-up stays overdue here while the engine repeats it.
    # Written with next_due_at (clock.next_promise); the frontline list is ordered by it.
    promise_due_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Copies of step facts for the managers' trends (insights), written by the services with
    # the step itself, so the scorecard is one GROUP BY over this table instead of joins over four.
    seconds_to_apology = models.PositiveIntegerField(null=True, blank=True)
    seconds_to_follow_up = models.PositiveIntegerField(null=True, blank=True, help_text=_("First customer-facing follow-up."))
    seconds_to_fix = models.PositiveIntegerField(null=True, blank=True)
    wrapped_up_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    # The customer's own verdict (outreach's satisfaction check), beside the outcome staff recorded.
    customer_outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    customer_answered_at = models.DateTimeField(null=True, blank=True)
    # What the owner will do next: the progress report to the customer tells them.
    next_step = models.TextField(blank=True)
    gesture_count = models.PositiveIntegerField(default=0, help_text=_("Gestures given or approved, in the organization's currency."))
    gesture_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    # What a person may find the incident by (the customer, the summary, the notes of its steps), written
    # by the services that change them (services.search). The text serves SQLite's simple search; on
    # PostgreSQL the search reads its tsvector, kept beside it, through a GIN index (migration 0022).
    search_document = models.TextField(blank=True, default="", editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="incident_external_id_unique",
            ),
            # The Log a failure form's one-time token: the same form sent twice logs one incident.
            models.UniqueConstraint(
                fields=["logged_by", "form_token"], condition=Q(form_token__isnull=False), name="incident_form_token_unique"
            ),
            models.CheckConstraint(condition=Q(logged_at__gte=models.F("occurred_at")), name="incident_occurred_before_logged"),
        ]
        indexes = [
            # Serves the sweep: only open incidents with something due, ordered by due time.
            models.Index(
                fields=["next_due_at"],
                name="incident_open_next_due",
                condition=Q(closed_at__isnull=True, next_due_at__isnull=False),
            ),
            # Pages address an incident by its reference; exact matches only, so one plain index.
            models.Index(fields=["reference"], name="incident_reference"),
            # The lists (the API's, the managers'): newest first within the organization or one location,
            # the id breaking ties, so ORDER BY … LIMIT and a cursor 10,000 deep read the index from where
            # the page starts and stop after one page, whatever the table's size.
            models.Index(fields=["location", "logged_at", "id"], name="incident_location_logged_id"),
            models.Index(fields=["organization", "logged_at", "id"], name="incident_org_logged_id"),
            # The API's ?open=true (and the open lists newest first): only open rows are in it, so it stays
            # small (the open share of the table) and a closed row costs it nothing after the next vacuum.
            models.Index(fields=["organization", "logged_at", "id"], name="incident_org_open_logged",
                         condition=Q(closed_at__isnull=True)),
            # The API's ?updated_since= (a helpdesk syncing what changed) and ?ordering=updated_at. The one
            # index here that every write touches (updated_at moves on each save): the sync is how a
            # helpdesk keeps up, and without it each sync reads every incident of the organization.
            models.Index(fields=["organization", "updated_at", "id"], name="incident_org_updated"),
            models.Index(fields=["owner", "closed_at"], name="incident_owner_open"),
            # Serves the managers' open-recoveries console: open incidents of some locations, ranked by
            # lateness, a decision waiting and due time, and counted late or overdue, from the index alone
            # (every column the ranking and the counts name is in it; closed_at is always NULL here, but
            # the late rule names it).
            models.Index(
                fields=["location", "next_due_at"], name="incident_open_by_location", condition=Q(closed_at__isnull=True),
                include=["follow_up_due_at", "responded_at", "logged_at", "id", "closed_at", "promise_due_at"],
            ),
            # The "needs your decision" strip names the oldest few late recoveries and overdue promises:
            # each read in due order from its own small index, stopping after a few rows.
            models.Index(
                fields=["follow_up_due_at", "id"], name="incident_open_unanswered",
                condition=Q(closed_at__isnull=True, responded_at__isnull=True),
            ),
            models.Index(
                fields=["promise_due_at", "id"], name="incident_open_promised",
                condition=Q(closed_at__isnull=True, responded_at__isnull=False),
            ),
            # The scorecard's value kept: the kept recoveries of some locations over a period and whose
            # customer each was, from the index alone (a kept recovery's outcome rarely changes again).
            models.Index(
                fields=["location", "logged_at"], name="incident_kept", condition=Q(outcome__in=KEPT),
                include=["customer", "owner"],
            ),
        ]
        ordering = ["-logged_at"]

    def __str__(self):
        return f"{self.reference} – {self.customer.name}" if self.customer_id else self.reference

    @property
    def is_open(self):
        return self.closed_at is None

    def window_state(self, now):
        """The twenty-minute clock: met, missed (answered after it), late (passed, nothing yet) or running."""
        return clock.clock_state(self.follow_up_due_at, self.responded_at, now)


class StepRecord(models.Model):
    """A step that can be revised; `version` counts saves so two editors never overwrite each other."""

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True


class Apology(StepRecord):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="apology")
    apologized_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    apologized_at = models.DateTimeField()
    channel = models.CharField(max_length=20, choices=Channel.choices)
    text = models.TextField(help_text=_("The words used, as near as you remember them."))
    customer_accepted = models.BooleanField(
        default=False, help_text=_("The customer signalled the apology landed, e.g. “I know it's not your fault”.")
    )
    # What the coach pointed out: [{"phrase", "kind", "suggestion"}]. Never blocks the record.
    coach_flags = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "apologies"


class Review(StepRecord):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField()
    customer_account = models.TextField(help_text=_("What happened, in the customer's words."))
    customer_losses = models.TextField(blank=True, help_text=_("Time, money, face in front of others."))
    customer_needs = models.TextField(help_text=_("What the customer needs for a good outcome."))


class Fix(StepRecord):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="fix")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    description = models.TextField(help_text=_("What was done to make things as they should have been."))
    fixed = models.BooleanField(default=False)
    fixed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "fixes"


class Gesture(models.Model):
    """The something extra, with what it cost. Over the giver's budget it waits for a manager."""

    class Kind(models.TextChoices):
        UPGRADE = "upgrade", _("Upgrade")
        CREDIT = "credit", _("Credit or refund")
        GIFT = "gift", _("Gift")
        EXPERT_TIME = "expert_time", _("Time with an expert")
        NOTE = "note", _("Handwritten note")
        OTHER = "other", _("Other")

    class Approval(models.TextChoices):
        NOT_NEEDED = "not_needed", _("Within budget")
        PENDING = "pending", _("Waiting for a manager")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        # Still waiting when the recovery closed: no longer anyone's to give; giver and managers are told.
        LAPSED = "lapsed", _("Lapsed: the recovery closed before a decision")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="gestures")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=300)
    cost = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3)
    given_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="gestures_given")
    given_at = models.DateTimeField()
    approval = models.CharField(max_length=20, choices=Approval.choices, default=Approval.NOT_NEEDED)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(cost__gte=0), name="gesture_cost_not_negative")]
        indexes = [
            models.Index(fields=["approval"], name="gesture_pending", condition=Q(approval="pending")),
        ]


class FollowUp(models.Model):
    class Kind(models.TextChoices):
        IMMEDIATE = "immediate", _("Immediate check-back")
        PROGRESS = "progress", _("Progress report")
        POST_FIX = "post_fix", _("Post-fix check-back")
        WRAP_UP = "wrap_up", _("Wrap-up note")
        INTERNAL = "internal", _("Internal alert")

    # Every kind but an internal alert reaches the customer, and so can meet the twenty-minute clock.
    CUSTOMER_FACING = (Kind.IMMEDIATE, Kind.PROGRESS, Kind.POST_FIX, Kind.WRAP_UP)

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    note = models.TextField()
    done_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField()

    class Meta:
        ordering = ["done_at"]
        indexes = [models.Index(fields=["incident", "kind", "done_at"])]


class Deposition(StepRecord):
    """The documentation step: a record for learning, never for blame."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="deposition")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    product = models.CharField(max_length=200, blank=True)
    busyness = models.CharField(max_length=20, choices=Busyness.choices)
    circumstances = models.TextField(help_text=_("The customer's circumstances."))
    root_cause = models.TextField(help_text=_("What went wrong, as far as known."))
    prevention = models.TextField(blank=True, help_text=_("What would prevent it."))


class Resolution(models.Model):
    """How the recovery ended."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="resolution")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    satisfaction = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="resolution_satisfaction_1_to_5",
            )
        ]


class EventKind(models.TextChoices):
    """What a timeline entry records. Every one is either sent to webhooks (helpdesk.webhooks) or
    listed in INTERNAL_EVENT_KINDS."""

    LOGGED = "logged", _("Logged")
    APOLOGY = "apology", _("Apology")
    REVIEW = "review", _("Review")
    FIX = "fix", _("Fix")
    FOLLOW_UP = "follow_up", _("Follow-up")
    DEPOSITION = "deposition", _("Deposition")
    GESTURE_GIVEN = "gesture_given", _("Gesture given")
    GESTURE_AWAITS_APPROVAL = "gesture_awaits_approval", _("Gesture waits for approval")
    GESTURE_APPROVED = "gesture_approved", _("Gesture approved")
    GESTURE_REFUSED = "gesture_refused", _("Gesture refused")
    GESTURE_LAPSED = "gesture_lapsed", _("Gesture lapsed undecided")
    REASSIGNED = "reassigned", _("Reassigned")
    HELPER_ADDED = "helper_added", _("Helper added")
    HELPER_REMOVED = "helper_removed", _("Helper removed")
    DETAILS_CHANGED = "details_changed", _("Details changed")
    MESSAGE_SENT = "message_sent", _("Message to the customer sent")
    MESSAGE_FAILED = "message_failed", _("Message to the customer failed")
    MESSAGE_NOT_SENT = "message_not_sent", _("Message to the customer not sent")
    SURVEY_ANSWERED = "survey_answered", _("The customer answered")
    BREACHED = "breached", _("Twenty-minute window missed")
    ESCALATED = "escalated", _("Escalated")
    CLOSED = "closed", _("Closed")
    ATTACHED = "attached", _("Photo or file attached")
    DETACHED = "detached", _("Photo or file removed")
    # Written by the Log a failure page until its one-time token moved onto the incident; shown to nobody.
    LOGGED_FROM_PAGE = "logged_from_page", _("Logged from the page")


# Kept on the timeline and never sent to a helpdesk: escalations name staff and managers, and the
# page's old token entries are internal.
INTERNAL_EVENT_KINDS = frozenset({EventKind.ESCALATED, EventKind.LOGGED_FROM_PAGE})


class Event(models.Model):
    """One entry of an incident's timeline. Append-only: written by `incidents.events`, never edited."""

    # No index of its own: (incident, at) below serves every lookup by incident.
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField()
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    actor_label = models.CharField(max_length=100, blank=True, help_text=_("Who acted when not a person."))
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    summary = models.CharField(max_length=300)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only.")
