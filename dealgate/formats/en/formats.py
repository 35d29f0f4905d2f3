"""English dates as every Dealgate page shows them (dealgate.words.day): "8 Dec", "3 Feb 2027".

Django reads this module for the "en" locale (settings.FORMAT_MODULE_PATH); another locale adds its own
folder beside this one.
"""

DATE_FORMAT = "j M Y"
MONTH_DAY_FORMAT = "j M"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
