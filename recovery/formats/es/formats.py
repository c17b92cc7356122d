# Spanish dates and numbers as Recovery writes them, over Django's own (django/conf/locale/es/formats.py).
# The pages' own short forms ("j M Y" → "4 Nov 2026") already put the day first and take Spanish names;
# these are the named ones ({{ value|date }}, date_format(value)) and the numbers: 1.234,5.
DATE_FORMAT = r"j \d\e F \d\e Y"
SHORT_DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = r"j \d\e F \d\e Y, H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = r"j \d\e F"
YEAR_MONTH_FORMAT = r"F \d\e Y"
FIRST_DAY_OF_WEEK = 1  # Monday
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
