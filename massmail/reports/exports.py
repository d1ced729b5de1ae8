"""A mailing's deliveries as CSV or XLSX, every outcome column, streamed.

Rows come from one query read in chunks (``.iterator(chunk_size=...)``, a server-side
cursor on PostgreSQL), so 100,000 deliveries never sit in memory, and every cell goes
through ``spreadsheets.cell``, which defuses formulas, as the suppression export does.

CSV is streamed line by line as the client reads. XLSX is written with openpyxl in
write-only mode: a maintained library (the reference for reading and writing .xlsx in
Python, also what tablib uses underneath), whose write-only worksheets stream rows to a
temporary file instead of building cells in memory; the finished file is then sent
from disk in chunks. tablib would add a layer that holds the whole data set in memory.
"""

import tempfile

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..admin.suppressions import suppression_reason
from ..models import Click
from ..spreadsheets import cell, csv_lines

CHUNK_SIZE = 2000
# Stable identifiers rather than translated labels, like the suppression export.
COLUMNS = (
    ("delivery_id", "pk"),
    ("email", "email"),
    ("record_type", "recipient__content_type__model"),
    ("record_id", "recipient__object_id"),
    ("status", "status"),
    ("skip_reason", "skip_reason"),
    ("account", "account__from_email"),
    ("attempts", "attempts"),
    ("attempted_at", "attempted_at"),
    ("sent_at", "sent_at"),
    ("smtp_code", "smtp_code"),
    ("smtp_reply", "smtp_reply"),
    ("message_id", "message_id"),
    ("bounce", "bounce"),
    ("bounce_status", "bounce_status"),
    ("bounced_at", "bounced_at"),
    ("complained_at", "complained_at"),
    ("auto_replied_at", "auto_replied_at"),
    ("replied_at", "replied_at"),
    ("suppressed", "export_suppressed"),
    ("human_clicks", "export_human_clicks"),
    ("machine_clicks", "export_machine_clicks"),
)
HEADER = tuple(name for name, _field in COLUMNS)


def _clicks(human):
    counted = (Click.objects.filter(delivery_id=OuterRef("pk"), human=human).order_by()
               .values("delivery_id").annotate(n=Count("id")).values("n"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def rows(mailing):
    """Tuples of the ``COLUMNS`` of every delivery of ``mailing``, read in chunks."""
    deliveries = mailing.deliveries.order_by("pk").annotate(
        export_suppressed=suppression_reason(OuterRef("email")),
        export_human_clicks=_clicks(True), export_machine_clicks=_clicks(False),
    )
    return deliveries.values_list(*(field for _name, field in COLUMNS)).iterator(
        chunk_size=CHUNK_SIZE)


def filename(mailing, extension):
    return f"mailing-{mailing.pk}-deliveries-{timezone.localdate():%Y-%m-%d}.{extension}"


def csv_response(mailing):
    response = StreamingHttpResponse(csv_lines(HEADER, rows(mailing)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename(mailing, "csv")}"'
    return response


def _xlsx_cell(value):
    value = cell(value)
    # XML cannot carry most control characters; an SMTP reply may hold some.
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def write_xlsx(mailing, handle):
    """Write the deliveries of ``mailing`` as an .xlsx workbook into ``handle``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("deliveries")
    sheet.append(HEADER)
    for row in rows(mailing):
        sheet.append([_xlsx_cell(value) for value in row])
    workbook.save(handle)


def xlsx_response(mailing):
    handle = tempfile.TemporaryFile()  # gone from disk when the response closes it
    write_xlsx(mailing, handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=filename(mailing, "xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
