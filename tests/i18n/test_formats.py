"""Dates and numbers are written the way the reader's language writes them."""

import datetime
from decimal import Decimal

from django.template import Context, Template
from django.utils import translation
from django.utils.formats import date_format

from insights import charts
from insights.clusters import WEEKDAYS

DAY = datetime.date(2026, 11, 4)  # a Wednesday


def test_the_pages_dates_take_the_readers_month_and_day_names():
    template = Template('{{ day|date:"D j M Y" }} · {{ day|date:"l" }} · {{ day|date }}')
    with translation.override("es"):
        assert template.render(Context({"day": DAY})) == "mié 4 Nov 2026 · miércoles · 4 de noviembre de 2026"
    with translation.override("en"):
        assert template.render(Context({"day": DAY})).startswith("Wed 4 Nov 2026 · Wednesday")


def test_numbers_and_money_are_grouped_the_readers_way():
    with translation.override("es"):
        assert charts.money(Decimal("12345.60")) == "12.346"
        assert charts.minutes(5400) == "1,5 h" and charts.percent(12.5) == "12,5%"
        assert Template("{{ value }}").render(Context({"value": Decimal("50.25")})) == "50,25"
    with translation.override("en"):
        assert charts.money(Decimal("12345.60")) == "12,346"
        assert charts.minutes(5400) == "1.5 h" and charts.percent(12.5) == "12.5%"


def test_weekday_names_of_the_charts_follow_the_reader():
    with translation.override("es"):
        assert [str(day) for day in WEEKDAYS][:3] == ["lun", "mar", "mié"]
    with translation.override("en"):
        assert str(WEEKDAYS[0]) == "Mon"


def test_dates_written_in_python_follow_the_reader_too():
    with translation.override("es"):
        assert date_format(DAY, "D j M") == "mié 4 Nov"


def test_a_day_typed_in_the_readers_language_is_read_and_written_back_in_it():
    from insights.scope import DAY_FORMATS, DayField, day_text

    field = DayField(input_formats=DAY_FORMATS)
    with translation.override("es"):
        assert day_text(datetime.date(2026, 12, 2)) == "2 Dic 2026"
        assert field.clean("2 dic 2026") == field.clean("2 de diciembre de 2026") == datetime.date(2026, 12, 2)
        assert field.clean("1 ene 2026") == datetime.date(2026, 1, 1)
    with translation.override("en"):
        assert day_text(datetime.date(2026, 12, 2)) == "2 Dec 2026"
        assert field.clean("2 Dec 2026") == datetime.date(2026, 12, 2)
