import datetime
import math
import random

import pytest
from django.core.management import call_command

from incidents import demo
from insights import clusters, selectors
from insights.scope import scope_for
from incidents.models import User

NOW = datetime.datetime(2026, 11, 23, 19, 0, tzinfo=datetime.timezone.utc)


class Place:
    def __init__(self, pk, name):
        self.pk, self.name = pk, name


PLACES = [Place(1, "Riverside"), Place(2, "Hilltop"), Place(3, "Old Town")]


def poisson_sample(rng, mean):
    """Knuth's method: fine for the small means of a heatmap cell."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def uniform_cells(rng, mean=3.0, hours=range(8, 22)):
    cells = {}
    for place in PLACES:
        for weekday in range(1, 8):
            for hour in hours:
                n = poisson_sample(rng, mean)
                if n:
                    cells[(place.pk, weekday, hour)] = n
    return cells


def test_the_poisson_upper_tail_matches_hand_computed_values():
    # P(X ≥ 3 | λ = 1) = 1 − e⁻¹(1 + 1 + ½)
    assert clusters.poisson_upper_tail(3, 1.0) == pytest.approx(1 - math.exp(-1) * 2.5, rel=1e-9)
    # P(X ≥ 1 | λ = 2) = 1 − e⁻²
    assert clusters.poisson_upper_tail(1, 2.0) == pytest.approx(1 - math.exp(-2), rel=1e-9)
    assert clusters.poisson_upper_tail(0, 5.0) == 1.0
    # Far in the tail it stays accurate instead of rounding to zero: P(X ≥ 40 | 2) ≈ e⁻²·2⁴⁰/40!
    assert clusters.poisson_upper_tail(40, 2.0) == pytest.approx(math.exp(-2) * 2**40 / math.factorial(40), rel=0.1)


@pytest.mark.parametrize("seed", range(10))
def test_uniform_data_flags_nothing(seed):
    cells = uniform_cells(random.Random(seed))
    assert clusters.time_clusters(cells, PLACES) == []
    region_cells = {(region, category): poisson_sample(random.Random(seed * 100 + i), 20.0)
                    for i, (region, category) in enumerate((r, c) for r in ("North", "South", "East") for c in range(8))}
    assert clusters.category_clusters(region_cells, {c: f"Category {c}" for c in range(8)}) == []


def test_a_planted_afternoon_is_found_and_described():
    cells = uniform_cells(random.Random(7))
    cells[(1, 3, 15)] = cells.get((1, 3, 15), 0) + 14
    found = clusters.time_clusters(cells, PLACES, link={"start": "2026-03-01"})
    assert len(found) == 1
    cluster = found[0]
    assert cluster.text.startswith(f"Wed 15:00–16:00 at Riverside: {cells[(1, 3, 15)]} incidents, ")
    assert cluster.text.endswith("× the usual rate")
    assert cluster.p_value < clusters.ALPHA / (3 * 7 * 24)
    assert cluster.link == {"start": "2026-03-01", "location": 1, "weekday": 3, "hour": 15}


def test_a_few_incidents_are_not_a_pattern():
    cells = {(1, weekday, hour): 1 for weekday in range(1, 8) for hour in range(9, 18)}
    cells[(1, 3, 15)] = 4  # far above the usual one, but only four incidents
    assert clusters.time_clusters(cells, PLACES[:1]) == []


@pytest.fixture(scope="module")
def demo_org(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        organization, created = demo.seed(NOW)
        assert created
        yield organization
        call_command("flush", "--noinput")


@pytest.mark.django_db
@pytest.mark.parametrize("weeks", [4, 8])
def test_the_detector_finds_the_demo_patterns(demo_org, weeks):
    manager = User.objects.get(username="manager")
    scope = scope_for(manager)
    start = NOW - datetime.timedelta(weeks=weeks)
    incidents = selectors.period_incidents(scope, {}, start, NOW, NOW)
    counts = selectors.trend_counts(scope, incidents)
    time = clusters.time_clusters(counts.cells, scope.locations)
    assert [cluster.text.split(":")[0] for cluster in time] == ["Wed 15"]
    assert time[0].text.startswith("Wed 15:00–16:00 at Riverside: ")
    names = {category.pk: category.name for category in demo_org.categories.all()}
    products = clusters.category_clusters(counts.region_category, names)
    assert products[0].text.startswith("Coffee machine in the North region")
    assert products[0].link["region"] == "North"


@pytest.mark.django_db
def test_the_demo_cluster_links_to_exactly_its_incidents(demo_org, client):
    manager = User.objects.get(username="manager")
    client.force_login(manager)
    page = client.get("/manage/trends/?start=2026-10-27&end=2026-11-23")
    wednesday = next(link for cluster, link in page.context["cluster_links"] if cluster.kind == "time")
    listed = client.get(f"/manage/incidents/?{wednesday}")
    incidents = list(listed.context["page"].paginator.object_list)
    assert len(incidents) == next(c for c in page.context["clusters"] if c.kind == "time").observed
    for incident in incidents:
        local = incident.logged_at.astimezone(demo.ZONE)
        assert (local.weekday(), local.hour, incident.location.code) == (2, 15, "riverside")


@pytest.mark.parametrize("p_value, words", [
    (9.3e-11, "about 1 in 10 billion"),
    (2.4e-5, "about 1 in 40 thousand"),
    (0.004, "about 1 in 200"),
    (1e-13, "less than 1 in a trillion"),
])
def test_the_chance_of_a_cluster_is_said_in_words(p_value, words):
    assert clusters.chance_words(p_value) == words
