"""Mailing reports (DESIGN 12): the funnel of a mailing and the overview of many
(funnel.py), their charts (charts.py) and the deliveries as CSV and XLSX (exports.py).
The admin pages that show them are in massmail/admin/reports.py."""
