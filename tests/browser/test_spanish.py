"""The Done-when of the Spanish app in real Chromium: log a failure, the apology coach flagging a fake
Spanish apology, and the manager's trends, at desktop and phone width, with no English words left on
those pages beyond the data people typed."""

import re

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from incidents.models import Incident
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import PHONE
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}

# Words of English that Spanish never uses: one of them on a page means a string was left untranslated.
ENGLISH = set("""
the and of to your you is it its this that these with for by not from are was were be been will can could what how
when which on at or an has have had they them their we our us my me if so but do does did into about after before
over only new log save sign open late left due customer customers failure failures incident incidents apology coach
trends recovery recoveries manage settings notifications search menu skip content main find logged owner owned
step steps review fix fixed follow deposition outcome clock window minutes min left hour hours day days week weeks
stands out expected chance breakdown location locations region category staff busy channel table weekday shown
""".split()) - {"min"}  # "min" is Spanish too


def es(text):
    with translation.override("es"):
        return translation.gettext(text)


def english_left(page, data=()):
    """The English words on the page (visible text and the attributes people read), data taken out."""
    text = page.evaluate("""() => {
        const parts = [document.title, document.body.innerText];
        for (const el of document.querySelectorAll('[placeholder],[aria-label],[title],[alt],input[type=submit],button')) {
            for (const name of ['placeholder', 'aria-label', 'title', 'alt']) {
                if (el.getAttribute(name)) parts.push(el.getAttribute(name));
            }
            if (el.tagName === 'INPUT' && el.type === 'submit') parts.push(el.value);
        }
        for (const t of document.querySelectorAll('svg title')) parts.push(t.textContent);
        return parts.join('\\n');
    }""")
    for value in data:
        text = text.replace(value, " ")
    # The product's name is a brand, the same in every language.
    text = text.replace("Recovery", " ")
    # Each English word with the words around it, so a failure says where it is.
    return sorted({text[max(match.start() - 40, 0):match.end() + 40].replace("\n", " ")
                   for match in re.finditer(r"[A-Za-z']+", text) if match.group().lower() in ENGLISH})


@pytest.fixture
def spanish_team(transactional_db):
    organization = factories.OrganizationFactory(name="Hoteles del Puerto", slug="puerto")
    organization.language = "es"
    organization.save(update_fields=["language"])
    location = factories.LocationFactory(organization=organization, name="Centro", code="centro", region="Sur",
                                         timezone="Europe/Madrid")
    frontline = factories.UserFactory(username="lucia", first_name="Lucía", last_name="García", language="es",
                                      organization=organization, locations=[location])
    manager = factories.UserFactory(username="marta", first_name="Marta", last_name="Ruiz", language="es",
                                    role="manager", organization=organization, locations=[location])
    # A few failures already logged, so the trends have something to draw.
    for summary, category in [("La sopa llegó fría", "Cocina"), ("La habitación no estaba lista", "Habitaciones"),
                              ("Esperó veinte minutos la cuenta", "Sala"), ("El café estaba frío", "Cocina")]:
        factories.log_incident(user=frontline, location=location, summary=summary, category=category,
                               now=timezone.now())
    return frontline, manager


def log_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label(es("Username")).fill(user.username)
    page.get_by_label(es("Password")).fill(PASSWORD)
    page.get_by_role("button", name=es("Log in")).click()
    page.wait_for_url(f"{live_server.url}/**")


@pytest.fixture
def spanish_browser(browser):
    """A browser whose own language is Spanish: the pages before signing in follow it."""
    context = browser.new_context(locale="es-ES")
    yield context
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_spanish_team_logs_a_failure_is_coached_and_reads_the_trends_in_spanish(
        spanish_browser, live_server, screenshot, spanish_team, viewport):
    frontline, manager = spanish_team
    width = "desktop" if viewport is DESKTOP else "phone"
    page = spanish_browser.new_page()
    page.set_viewport_size(viewport)
    data = ["Hoteles del Puerto", "Centro", "Lucía García", "Marta Ruiz", "Cocina", "Habitaciones", "Sala"]

    log_in(page, live_server, frontline)
    expect(page.locator("html")).to_have_attribute("lang", "es")

    # Log a failure.
    page.goto(f"{live_server.url}/log/")
    expect(page.get_by_role("heading", level=1)).to_have_text(es("Log a failure"))
    assert english_left(page, data) == []
    assert_accessible(page)
    screenshot(f"es-{width}-log-a-failure", page)
    page.get_by_label(es("Customer's name")).fill("Ana Torres")
    page.get_by_label(es("What happened")).fill("La mesa reservada estaba ocupada")
    page.get_by_role("button", name=es("Log it and start the clock")).click()
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))
    incident = Incident.objects.get(customer__name="Ana Torres")
    expect(page.get_by_text(es("%(reference)s logged. You own it; the clock has started.")
                            % {"reference": incident.reference})).to_be_visible()

    # The apology coach flags a fake Spanish apology as it is typed.
    apology = page.locator("#apology-form")
    apology.get_by_label(es("What you said")).press_sequentially(
        "Lamentamos cualquier inconveniente, pero es nuestra política.")
    coach = apology.locator("[data-coach-output]")
    expect(coach).to_be_visible()
    expect(coach).to_contain_text("es nuestra política")
    expect(coach).to_contain_text("Déjeme ver qué puedo hacer por usted.")
    expect(coach).to_contain_text(es("policy language"))
    data += ["Ana Torres", "La mesa reservada estaba ocupada", incident.reference,
             "Lamentamos cualquier inconveniente, pero es nuestra política."]
    assert english_left(page, data) == []
    assert_accessible(page)
    screenshot(f"es-{width}-apology-coach", page)
    apology.get_by_role("button", name=es("Save the apology")).click()
    expect(page.locator("p.message.success")).to_contain_text(
        es("The coach noted %(flags)s. Next time, try the warmer wording.").split("%(flags)s")[0])
    incident.apology.refresh_from_db()
    assert [flag["phrase"] for flag in incident.apology.coach_flags] == ["lamentamos cualquier inconveniente",
                                                                         "es nuestra política"]

    # The manager's trends.
    page.context.clear_cookies()
    log_in(page, live_server, manager)
    page.goto(f"{live_server.url}/manage/trends/")
    expect(page.get_by_role("heading", level=1)).to_have_text(es("Trends"))
    expect(page.locator("svg.heatmap")).to_be_visible()
    expect(page.locator("svg.bars").first).to_be_visible()
    assert english_left(page, data + ["La sopa llegó fría"]) == []
    assert_accessible(page)
    screenshot(f"es-{width}-trends", page)
