from django.conf import settings
from django.db import models


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
