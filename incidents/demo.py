"""Demo data: one organization, three locations and about eight weeks of recoveries with planted patterns.

The patterns a manager should find in the trends:
- Wednesdays 15:00–16:00 at Riverside, mostly on Jamie's shift: far more failures than any other hour there.
- "Coffee machine" failures only in the North region (Hilltop and Old Town).
- More failures when the business is busy or at peak (above 90% capacity).

Everything goes through `incidents.services`, so the timeline, clocks and stages are exactly what real use
would produce. Randomness is seeded: two runs on the same day build the same records.
"""

import datetime
import random
import zoneinfo
from decimal import Decimal

from django.db import transaction

from . import services
from .models import Customer, Location, Organization, User, WeeklySpan

DEMO_SLUG = "harbour"
DEMO_PASSWORD = "recover-demo"  # demo data only
WEEKS = 8
ZONE = zoneinfo.ZoneInfo("Europe/London")

LOCATIONS = [
    ("Riverside", "riverside", "South"),
    ("Hilltop", "hilltop", "North"),
    ("Old Town", "old-town", "North"),
]
STAFF = [
    # username, first, last, role, location codes
    ("frontline", "Frankie", "Lane", User.Role.FRONTLINE, ["riverside"]),
    ("manager", "Morgan", "Reyes", User.Role.MANAGER, ["riverside", "hilltop", "old-town"]),
    ("jamie", "Jamie", "Fox", User.Role.FRONTLINE, ["riverside"]),
    ("priya", "Priya", "Shah", User.Role.FRONTLINE, ["hilltop"]),
    ("tom", "Tom", "Okafor", User.Role.FRONTLINE, ["old-town"]),
    ("lee", "Lee", "Chen", User.Role.FRONTLINE, ["hilltop", "old-town"]),
    ("admin", "Alex", "Morgan", User.Role.ADMIN, []),
]
OPERATOR = "operator"  # runs the service: the Django admin, across organizations
CATEGORIES = ["Room service", "Check-in", "Billing", "Housekeeping", "Restaurant", "Wi-Fi"]
SUMMARIES = {
    "Room service": ["Breakfast arrived 40 minutes late", "Wrong order delivered to the room", "Soup arrived cold"],
    "Check-in": ["Room not ready at check-in time", "Booking could not be found", "Key cards did not work"],
    "Billing": ["Charged twice for the minibar", "Deposit not released", "Wrong rate on the invoice"],
    "Housekeeping": ["Room not cleaned", "No fresh towels", "Noisy hoovering at 7 am"],
    "Restaurant": ["Table given away", "Allergy not passed to the kitchen", "Waited an hour for mains"],
    "Wi-Fi": ["Wi-Fi dropped during a video call", "Could not log in to Wi-Fi"],
    "Coffee machine": ["Coffee machine in the lobby broken", "Coffee machine leaked on the counter"],
}
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Kemi", "Luca",
               "Maya", "Nina", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wen", "Yara", "Zoe"]
LAST_NAMES = ["Adams", "Brown", "Costa", "Dubois", "Evans", "Garcia", "Hughes", "Ito", "Jones", "Khan", "Lopez",
              "Murphy", "Novak", "Osei", "Patel", "Rossi", "Silva", "Turner", "Walsh", "Young"]
APOLOGIES = [
    "I'm so sorry. That's not the stay you should have had, and I'm going to sort it now.",
    "I'm really sorry we let you down today. Let me put this right.",
    "You're right to be upset, and I'm sorry. Here's what I'll do straight away.",
    "I'm sorry, it's our policy to check first.",  # the coach flags this one
]
GESTURES = [("upgrade", "Room upgrade", "35"), ("credit", "Dinner on the house", "45"), ("gift", "Bottle of wine", "25"),
            ("note", "Handwritten note from the manager", "0"), ("credit", "Refund of the night", "160")]
BUSYNESS_WEIGHTS = {"quiet": 1, "normal": 3, "busy": 4, "peak": 4}


def seed(now, *, stdout=None):
    """Build the demo organization unless it exists. Returns (organization, created)."""
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing:
        return existing, False
    with transaction.atomic():
        organization = _build(now)
    return organization, True


def _build(now):
    rng = random.Random(20260304)
    organization = services.create_organization(name="Harbour Hotels", slug=DEMO_SLUG, currency="GBP",
                                                default_discretion_budget=Decimal("50"))
    locations = {
        code: Location.objects.create(organization=organization, name=name, code=code, region=region,
                                      timezone="Europe/London", opens_at=datetime.time(7), closes_at=datetime.time(22))
        for name, code, region in LOCATIONS
    }
    # Hotels: the desk keeps 07:00–22:00 every day, bank holidays included (no holiday region).
    WeeklySpan.objects.bulk_create(WeeklySpan(location=location, weekday=day, opens=datetime.time(7), closes=datetime.time(22))
                                   for location in locations.values() for day in range(7))
    staff = {}
    for username, first, last, role, codes in STAFF:
        # Nobody of the organization is admin staff: they manage it in the app's Settings area.
        user = User(username=username, first_name=first, last_name=last, email=f"{username}@harbour.example",
                    organization=organization, role=role)
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.locations.set([locations[code] for code in codes])
        staff[username] = user
    if not User.objects.filter(username=OPERATOR).exists():
        User.objects.create_superuser(OPERATOR, f"{OPERATOR}@recovery.example", DEMO_PASSWORD)
    customers = [
        Customer.objects.create(
            organization=organization,
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            email=f"guest{i}@example.com",
            phone=f"+44 20 7946 {i:04d}",  # Ofcom's range for drama: valid, never anybody's
            lifetime_value=Decimal(rng.choice([300, 800, 1500, 4000, 12000])),
        )
        for i in range(180)
    ]
    for when, location_code, category, owner_name in _schedule(rng, now):
        location = locations[location_code]
        owner = staff[owner_name]
        _recover(rng, now, when, location, category, owner, rng.choice(customers), staff["manager"])
    _live_recoveries(now, locations["riverside"], staff, customers)
    _served_with_care(rng, now, customers)
    return organization


def _served_with_care(rng, now, customers):
    """Most customers whose last recovery closed a while ago have been back and were served with care:
    the owner cleared the flag a few days after closing. Those still recovering, or only just closed,
    keep theirs, so "Take special care" marks a believable few rather than everyone who ever had a failure."""
    for customer in customers:
        customer.refresh_from_db()
        last = customer.incidents.order_by("-logged_at").select_related("owner").first()
        if last is None or last.closed_at is None or not customer.care_flag_open_at(now):
            continue
        cleared_at = last.closed_at + datetime.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
        if cleared_at < now and rng.random() < 0.85:
            services.clear_care_flag(customer, by=last.owner, now=cleared_at)


def _live_recoveries(now, riverside, staff, customers):
    """A few recoveries in progress at Riverside right now, so the pages have something to show."""
    ago = lambda minutes: now - datetime.timedelta(minutes=minutes)  # noqa: E731
    frontline = staff["frontline"]
    log = lambda customer, summary, minutes, **extra: services.log_incident(  # noqa: E731
        logged_by=frontline, customer=customer, location=riverside, summary=summary, channel="in_person",
        category=extra.pop("category", "Restaurant"), busyness="busy", now=ago(minutes), **extra)
    log(customers[0], "Birthday cake forgotten for table 12", 3)
    reviewed = log(customers[1], "Room key stopped working twice", 12, category="Check-in")
    services.record_apology(reviewed, by=frontline, channel="in_person", text="I'm so sorry, that's really frustrating.", now=ago(10))
    services.record_review(reviewed, by=frontline, customer_account="Locked out twice after a long day",
                           customer_needs="A key that works and not to queue again", now=ago(8))
    log(customers[2], "Taxi booked by reception never came", 26, category="Check-in")  # nobody responded: late
    slow = log(customers[3], "Lost luggage from the shuttle", 60 * 30, category="Housekeeping")
    services.record_apology(slow, by=frontline, channel="phone", text="I'm very sorry, I'll keep you posted every step.", now=ago(60 * 30 - 2))
    services.record_review(slow, by=frontline, customer_account="Suitcase missing after the airport shuttle",
                           customer_needs="The suitcase back and clothes for tonight", now=ago(60 * 30 - 5))
    services.record_follow_up(slow, by=frontline, kind="progress", channel="phone", note="The shuttle company is searching.",
                              now=ago(60 * 30 - 15))
    generous = log(customers[4], "Wedding party seated an hour late", 45)
    services.record_apology(generous, by=frontline, channel="in_person", text="I'm so sorry we spoiled the start of your evening.", now=ago(44))
    services.record_review(generous, by=frontline, customer_account="Waited an hour with forty guests",
                           customer_needs="Recognition of the spoiled evening", now=ago(40))
    services.record_fix(generous, by=frontline, description="Seated the party and sped up the kitchen", fixed=True,
                        gesture={"kind": "credit", "description": "Champagne for the wedding party", "cost": "180"}, now=ago(35))


def _schedule(rng, now):
    """(when, location, category, owner) for each incident, oldest first, with the planted patterns."""
    staff_at = {"riverside": ["frontline", "jamie"], "hilltop": ["priya", "lee"], "old-town": ["tom", "lee"]}
    start = (now - datetime.timedelta(weeks=WEEKS)).astimezone(ZONE).date()
    plan = []
    for day in range((now.astimezone(ZONE).date() - start).days + 1):
        date = start + datetime.timedelta(days=day)
        for code in staff_at:
            # Background: a few incidents a day at each location, spread over opening hours.
            for _ in range(rng.choice([1, 2, 2, 3])):
                hour = rng.choice([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21])
                plan.append((date, hour, rng.randint(0, 59), code, rng.choice(CATEGORIES), rng.choice(staff_at[code])))
            # Pattern: one product failing only in the North region.
            if code != "riverside" and rng.random() < 0.35:
                plan.append((date, rng.randint(8, 20), rng.randint(0, 59), code, "Coffee machine", rng.choice(staff_at[code])))
        # Pattern: Wednesday afternoons 15:00-16:00 at Riverside, on Jamie's shift.
        if date.weekday() == 2:
            for _ in range(rng.randint(3, 5)):
                plan.append((date, 15, rng.randint(0, 59), "riverside", rng.choice(["Restaurant", "Room service"]), "jamie"))
    moments = []
    for date, hour, minute, code, category, owner in plan:
        when = datetime.datetime.combine(date, datetime.time(hour, minute), tzinfo=ZONE).astimezone(datetime.timezone.utc)
        if when < now - datetime.timedelta(minutes=3):
            moments.append((when, code, category, owner))
    return sorted(moments)


def _recover(rng, now, logged_at, location, category, owner, customer, manager):
    """Log one incident at `logged_at` and take it as far as its age allows."""
    minutes = lambda m: logged_at + datetime.timedelta(minutes=m)  # noqa: E731
    busyness = rng.choices(list(BUSYNESS_WEIGHTS), weights=BUSYNESS_WEIGHTS.values())[0]
    if category == "Coffee machine" or (location.code == "riverside" and logged_at.astimezone(ZONE).hour == 15):
        busyness = rng.choice(["busy", "peak", "peak"])
    incident = services.log_incident(
        logged_by=owner, customer=customer, location=location, summary=rng.choice(SUMMARIES[category]),
        channel=rng.choice(["in_person", "in_person", "phone", "email", "chat"]), category=category,
        severity=rng.choice(["low", "medium", "medium", "high"]), busyness=busyness,
        # Noticed a few minutes after it happened, within the same hour: the heatmap reads when it happened.
        occurred_at=minutes(-min(rng.randint(0, 10), logged_at.astimezone(ZONE).minute)), now=logged_at,
    )
    age = now - logged_at

    def step(at_minute):
        """Each step happens only if its moment has already passed."""
        moment = minutes(at_minute)
        return moment if moment < now else None

    if not (at := step(rng.randint(1, 4))):
        return
    services.record_apology(incident, by=owner, channel=incident.channel, text=rng.choice(APOLOGIES),
                            customer_accepted=rng.random() < 0.6, now=at)
    if not (at := step(rng.randint(5, 9))):
        return
    services.record_review(incident, by=owner, customer_account=incident.summary,
                           customer_needs="To have it put right and to be kept informed", now=at)
    # Most are fixed inside the twenty minutes; some need a progress follow-up; a few miss the window.
    fix_minute = rng.choice([10, 12, 15, 18, 19, 35, 60, 90, 240])
    if fix_minute > 20 and rng.random() < 0.6 and (at := step(rng.randint(12, 19))):
        services.record_follow_up(incident, by=owner, kind="progress", channel=incident.channel,
                                  note="Told the guest where we are and when it will be fixed.", now=at)
    if not (at := step(fix_minute)):
        return
    gesture = None
    if rng.random() < 0.7:
        kind, description, cost = rng.choice(GESTURES)
        gesture = {"kind": kind, "description": description, "cost": cost}
    services.record_fix(incident, by=owner, description="Put right on the spot", fixed=True, gesture=gesture, now=at)
    pending = incident.gestures.filter(approval="pending").first()
    if pending and (at := step(fix_minute + 30)):
        services.decide_gesture(pending, by=manager, approve=rng.random() < 0.85, now=at)
    if (at := step(fix_minute + rng.randint(20, 180))):
        services.record_deposition(
            incident, by=owner, busyness=busyness, product=category,
            circumstances=rng.choice(["Anniversary weekend", "Business trip", "Family with small children", "First stay"]),
            root_cause=rng.choice(["Short-staffed shift", "Equipment fault", "Handover missed", "Supplier late"]),
            prevention="Check the handover list at shift change", now=at,
        )
    if (at := step(fix_minute + 60 * 24)):
        services.record_follow_up(incident, by=owner, kind="post_fix", channel="email",
                                  note="Checked everything is still fine.", now=at)
    if age < datetime.timedelta(days=3) or not hasattr(incident, "deposition"):
        return
    wrap_at = minutes(fix_minute + 60 * 48)
    services.record_follow_up(incident, by=owner, kind="wrap_up", channel="letter",
                              note=f"Dear {customer.name}, thank you for your patience; we look forward to welcoming you again.",
                              now=wrap_at)
    outcome = rng.choices(["champion", "retained", "partial", "lost"], weights=[45, 35, 12, 8])[0]
    satisfaction = {"champion": 5, "retained": 4, "partial": 3, "lost": 1}[outcome]
    services.record_outcome(incident, by=owner, outcome=outcome, satisfaction=satisfaction,
                            now=wrap_at + datetime.timedelta(minutes=5))
