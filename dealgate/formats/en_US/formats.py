"""US English dates (dealgate.words.day for a browser that asks for en-US): "Dec 8", "Feb 3, 2027" -
month first, as the browser's own date picker shows them there (mm/dd/yyyy). Decision 033."""

DATE_FORMAT = "M j, Y"
MONTH_DAY_FORMAT = "M j"
SHORT_DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i"
