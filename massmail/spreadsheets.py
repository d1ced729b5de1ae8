"""Cells and CSV lines of every spreadsheet massmail exports (suppressions, deliveries;
CSV and XLSX), defused against formula injection.

A spreadsheet runs a cell that starts with "=", "+", "-" or "@" as a formula (and
some strip a leading tab or carriage return first), so an address or an SMTP reply
written by an outsider could run a formula on the manager's machine. Such text gets a
leading apostrophe, which spreadsheets show as plain text. Exports share this one
function, so no export forgets a rule.
"""

import csv

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """A cell: None empty, datetimes in ISO 8601, text defused against formulas;
    numbers and booleans as they are."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file for csv.writer that hands each line back instead of storing it."""

    def write(self, value):
        return value


def csv_lines(header, rows):
    """The CSV lines of ``header`` and ``rows`` (an iterable of tuples), one at a time,
    every cell through ``cell``: for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])
