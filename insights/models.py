from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy


class WeeklyDigest(models.Model):
    """Which week's digest a manager last had. One row per manager, written only by the digest's claim."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="weekly_digest"
    )
    # The Monday (in the manager's time zone) of the last digest sent: the digest claims the week by
    # moving this forward before it sends.
    sent_on = models.DateField()

    def __str__(self):
        return f"{self.user_id}: {self.sent_on}"


class Tally(models.Model):
    """The managers' figures summed per location × slice of a day × breakdown: the rollup the scorecard
    and the trends read instead of the incidents. Kept by `insights.rollups` (a beat pass a minute,
    recomputing whole location-days from the incidents), never edited by hand.

    A slice is the part of a location's local day that falls in one UTC day (one slice where the
    location keeps UTC, two elsewhere): a period is whole days either in the location's own time zone
    or in UTC (the console's zone when locations differ), so every period is a set of slices.
    `dimension` says what `key` is: "" the location's totals, "hour" the local ISO weekday and hour the
    incidents happened ("3-15": Wednesday 15:00–16:00), or the
    owner, logged_by, category, busyness or channel of the incidents counted."""

    location = models.ForeignKey("incidents.Location", on_delete=models.CASCADE, related_name="+", db_index=False)
    local_date = models.DateField()
    utc_date = models.DateField()
    dimension = models.CharField(max_length=12, blank=True)
    key = models.CharField(max_length=40, blank=True)
    logged = models.PositiveIntegerField(default=0)
    # The scorecard's counts, on the "" and owner rows (zero elsewhere). "Now"-dependent figures are
    # finished at read time: the twenty-minute rule still running (`unanswered_window`, the longest
    # window among the unanswered, bounds that look-up) and incidents open for less than a day.
    responded = models.PositiveIntegerField(default=0)
    rule_met = models.PositiveIntegerField(default=0)
    unanswered_window = models.PositiveIntegerField(null=True)
    fixed = models.PositiveIntegerField(default=0)
    wrapped_up = models.PositiveIntegerField(default=0)
    open = models.PositiveIntegerField(default=0)
    closed_late = models.PositiveIntegerField(default=0)
    champion = models.PositiveIntegerField(default=0)
    retained = models.PositiveIntegerField(default=0)
    partial = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    # No longer written or read: a customer kept on two days would count twice in a sum of days, so the
    # scorecard counts the value kept from the incidents (insights.selectors.scorecard.value_kept).
    value_kept = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    gestures = models.PositiveIntegerField(default=0)
    gesture_cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    checks_sent = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    customer_champion = models.PositiveIntegerField(default=0)
    customer_retained = models.PositiveIntegerField(default=0)
    customer_partial = models.PositiveIntegerField(default=0)
    customer_lost = models.PositiveIntegerField(default=0)
    both_judged = models.PositiveIntegerField(default=0)
    disagreed = models.PositiveIntegerField(default=0)
    staff_rosier = models.PositiveIntegerField(default=0)
    # {"seconds_to_apology": {"<shown seconds>": count}, …}: the durations at the resolution the
    # scorecard shows them, so medians and p90s are exact to what a manager reads.
    durations = models.JSONField(default=dict)
    # The same histograms summed over this row's series (its location, dimension and key) up to and
    # including this slice, on the "" and owner rows: a period's histogram is its last row's sum less
    # its first row's, plus the first row's own, so a page reads two rows per series, not one per day.
    durations_through = models.JSONField(default=dict)

    class Meta:
        constraints = [
            # Also the read path: a dimension of some locations over a range of local dates. The trends
            # count `logged` alone, so it rides in the index and their breakdowns never read the wide
            # rows (the owner and staff breakdowns are most of the table).
            models.UniqueConstraint(fields=["location", "dimension", "local_date", "utc_date", "key"],
                                    name="tally_unique_cell", include=["logged"]),
        ]

    def __str__(self):
        return f"{self.location_id} {self.local_date}/{self.utc_date} {self.dimension}={self.key}: {self.logged}"


class TallyCursor(models.Model):
    """How far the rollup's beat pass has folded incidents' changes (one row)."""

    folded_until = models.DateTimeField()


class ExportJob(models.Model):
    """A CSV export too large for one request: written by a worker, downloaded from its page until it expires.

    Only the person who asked and their organization's admins may see it (insights.export.job_for).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", gettext_lazy("Waiting for a worker")
        RUNNING = "running", gettext_lazy("Being written")
        READY = "ready", gettext_lazy("Ready to download")
        FAILED = "failed", gettext_lazy("Failed")
        EXPIRED = "expired", gettext_lazy("Expired")

    organization = models.ForeignKey("incidents.Organization", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs")
    # The console's filters as a query string, with the period resolved to dates when it was asked for,
    # so a job started or retried later covers the same days.
    query = models.TextField(blank=True)
    filename = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    rows_expected = models.PositiveIntegerField(default=0, help_text=gettext_lazy("Counted when the worker starts; for the progress bar."))
    rows_written = models.PositiveIntegerField(default=0)
    # The file's name in the "exports" storage (settings.STORAGES), once it is complete; empty before and
    # after it expires.
    file_name = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    # Moved by the worker with each chunk written: a running job whose heartbeat stopped is shown as failed.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The expiry pass asks only "which ready files are past their date?".
            models.Index(fields=["expires_at"], name="export_ready_expiry", condition=models.Q(status="ready")),
        ]

    def __str__(self):
        return f"{self.filename} ({self.status})"

    @property
    def percent(self):
        if self.status == self.Status.READY:
            return 100
        return min(99, self.rows_written * 100 // self.rows_expected) if self.rows_expected else 0


class SavedView(models.Model):
    """A person's named filters for one page of the console, applied in one click: the query string as
    that page's own filter form read it when it was saved (`insights.saved_views`), nothing else."""

    class Page(models.TextChoices):
        OPEN = "open", gettext_lazy("Open recoveries")
        INCIDENTS = "incidents", gettext_lazy("Incidents")
        TRENDS = "trends", gettext_lazy("Trends")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views",
                             db_index=False)
    page = models.CharField(max_length=20, choices=Page.choices)
    name = models.CharField(max_length=60)
    query = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Saving a name again replaces that view; the constraint's index also serves each page's list.
            models.UniqueConstraint(fields=["user", "page", "name"], name="saved_view_name_unique"),
        ]
        ordering = ["name"]

    def __str__(self):
        return self.name
