"""Report renderers: csv, xlsx, html and json for the term report; html, csv and json for the
custodian report.

HTML pages are self-contained (inline CSS and SVG, no scripts, nothing fetched), so a report
can be mailed or archived with the case file and still open years later. Charts are drawn here
as plain SVG; hovering a bar shows its figure through the SVG <title>.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from pipeline.errors import ReportError
from pipeline.reports import Provenance
from pipeline.reports.custodians import CustodianFigures, CustodianReport
from pipeline.reports.terms import TermReport, TermRow

TERM_FORMATS = ("csv", "xlsx", "html", "json")
CUSTODIAN_FORMATS = ("html", "csv", "json")
Report = TermReport | CustodianReport


def render(report: Report, fmt: str) -> bytes:
    """The report in `fmt`, as bytes ready to be written."""
    renderers = _renderers(report)
    if fmt not in renderers:
        raise ReportError(f"the {_kind(report)} report comes as {', '.join(renderers)}; "
                          f"not {fmt!r}")
    return renderers[fmt](report)


def write_report(report: Report, fmt: str, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    data = render(report, fmt)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise ReportError(f"cannot write the report to {target}: {exc}") from exc
    return target


def _kind(report: Report) -> str:
    return "search-term" if isinstance(report, TermReport) else "custodian"


def _renderers(report: Report) -> dict[str, Callable[[Any], bytes]]:
    if isinstance(report, TermReport):
        return {"csv": term_csv, "xlsx": term_xlsx, "html": term_html, "json": as_json}
    return {"html": custodian_html, "csv": custodian_csv, "json": as_json}


def as_json(report: Report) -> bytes:
    return (json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_LIMIT = 32767  # Excel refuses longer cells


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe. Reports carry
    names and ids from evidence; opening one must never execute anything. (JSON keeps the
    exact text.)"""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([spreadsheet_safe(v) for v in row] for row in rows)
    # A byte-order mark so Excel, where most of these end up, reads UTF-8 names correctly.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- the term report as a table ---------------------------------------------------------------

TERM_HEADINGS = ("Term", "Documents with hits", "Unique hits", "Family hits")
COUNT_NAMES = ("hits", "unique hits", "family hits")
TOTAL_LABEL = "Total (any term)"


def term_table(report: TermReport) -> list[list[Any]]:
    """Heading row, one row per term, the totals row; per-custodian columns on the right."""
    heading = list(TERM_HEADINGS) + [f"{name}: {what}" for name in report.custodians
                                     for what in COUNT_NAMES]
    body = [_term_cells(row, report.custodians, row.term) for row in report.rows]
    return [heading, *body, _term_cells(report.totals, report.custodians, TOTAL_LABEL)]


def _term_cells(row: TermRow, custodians: Sequence[str], label: str) -> list[Any]:
    cells: list[Any] = [label, row.counts.hits, row.counts.unique_hits, row.counts.family_hits]
    for name in custodians:
        counts = row.by_custodian.get(name)
        cells += [counts.hits, counts.unique_hits, counts.family_hits] if counts else [0, 0, 0]
    return cells


def term_csv(report: TermReport) -> bytes:
    return _csv_bytes(term_table(report))


def _provenance_rows(source: Provenance) -> list[tuple[str, Any]]:
    return [("Case", source.case), ("Alias", source.alias),
            ("Index", ", ".join(source.indices)),
            ("Documents in the index", source.index_documents),
            ("Generated (UTC)", source.generated_at), ("Trawl version", source.trawl_version)]


def term_xlsx(report: TermReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Terms"
    table = term_table(report)
    for row in table:
        sheet.append(row)
    _text_stays_text(sheet)
    for cell in sheet[1] + sheet[len(table)]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = max(12, min(60, max(len(str(r[0])) for r in table) + 2))
    _about_sheet(book.create_sheet("About"), report)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text_stays_text(sheet: Any) -> None:
    """A term such as '=HYPERLINK(…)' must be stored as text, never run as a formula."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"


def _about_sheet(sheet: Any, report: TermReport) -> None:
    from openpyxl.styles import Font

    rows: list[tuple[Any, ...]] = [*_provenance_rows(report.provenance),
                                   ("Scope", report.scope),
                                   ("Default fields", ", ".join(report.default_fields)), ()]
    rows += [("How counted",)] + [(name, text) for name, text in _method(report).items()] + [()]
    rows += [("Term", "Elasticsearch query")]
    rows += [(row.term, _fit_cell(json.dumps(row.query, ensure_ascii=False)))
             for row in report.rows + (report.totals,)]
    for row in rows:
        sheet.append(list(row))
    _text_stays_text(sheet)
    for cell in sheet["A"]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 100


def _fit_cell(text: str) -> str:
    if len(text) <= XLSX_CELL_LIMIT:
        return text
    cut = " … (cut to fit a spreadsheet cell; the json report has it whole)"
    return text[:XLSX_CELL_LIMIT - len(cut)] + cut


def _method(report: Report) -> dict[str, str]:
    return report.to_dict()["method"]


# --- HTML: shared page ------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d2330;
  margin:0;background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;border-bottom:2px solid
  #d9dde5;padding-bottom:4px}h3{font-size:15px;margin:18px 0 8px}
.sub{color:#5a6272;margin:0 0 16px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;background:#fff;
  border:1px solid #d9dde5;border-radius:6px;padding:12px 16px;font-size:13px}
.meta dt{color:#5a6272}.meta dd{margin:0;word-break:break-all}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:4px 0 8px}
th,td{border:1px solid #d9dde5;padding:5px 9px;text-align:right;vertical-align:top}
th{background:#eef1f5;font-weight:600}th.l,td.l{text-align:left}
tr.total td{font-weight:700;background:#f7f8fa}tr.zero td{color:#8a92a3;background:#fafafa}
th.group{text-align:center}
.scroll{overflow-x:auto}
.bar{display:inline-block;height:9px;background:#3d6fb6;border-radius:2px;margin-right:6px;
  vertical-align:middle}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.tile{background:#fff;border:1px solid #d9dde5;border-radius:6px;padding:8px 14px;min-width:96px}
.tile b{display:block;font-size:20px}.tile span{color:#5a6272;font-size:12px}
section.custodian{background:#fff;border:1px solid #d9dde5;border-radius:8px;padding:4px 20px
  16px;margin:20px 0}section.custodian h2{margin-top:14px}
.cols{display:flex;flex-wrap:wrap;gap:28px}
.note{color:#5a6272;font-size:12px}
pre{background:#f7f8fa;border:1px solid #d9dde5;padding:8px;overflow-x:auto;font-size:12px}
details{margin:4px 0}summary{cursor:pointer}
code{font-size:12px}
@media print{body{background:#fff}section.custodian{break-inside:avoid}}
"""


def _page(title: str, subtitle: str, body: str) -> bytes:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{escape(title)}</h1><p class=\"sub\">{escape(subtitle)}</p>{body}"
            "</main></body></html>\n").encode("utf-8")


def _meta(source: Provenance, extra: Iterable[tuple[str, Any]] = ()) -> str:
    rows = _provenance_rows(source) + list(extra)
    return "<dl class=\"meta\">" + "".join(
        f"<dt>{escape(str(k))}</dt><dd>{escape(_format(v))}</dd>" for k, v in rows) + "</dl>"


def _format(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


LEFT = ' class="l"'
TOTAL = ' class="total"'
ZERO = ' class="zero"'


def _cell(value: Any, left: bool = False) -> str:
    return f"<td{LEFT if left else ''}>{escape(_format(value))}</td>"


def _table(headings: Sequence[str], rows: Iterable[str], left_columns: int = 1) -> str:
    head = "".join(f"<th{LEFT if i < left_columns else ''}>{escape(h)}</th>"
                   for i, h in enumerate(headings))
    return f"<div class=\"scroll\"><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def _method_list(method: dict[str, str]) -> str:
    return "<ul>" + "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>"
                            for k, v in method.items()) + "</ul>"


# --- HTML: the term report --------------------------------------------------------------------

def term_html(report: TermReport) -> bytes:
    source = report.provenance
    fields = ", ".join(name.partition("^")[0] for name in report.default_fields)
    body = _meta(source, [("Scope", report.scope), ("Fields searched by bare words", fields),
                          ("Terms", len(report.rows))])
    body += "<h2>Hits per term</h2>" + _term_summary(report)
    if report.custodians:
        body += "<h2>Per custodian</h2>" + _term_by_custodian(report)
        body += ("<p class=\"note\">An item held by several custodians counts for each, so a "
                 "row's custodian figures can add up to more than its total.</p>")
    body += "<h2>How the figures are counted</h2>" + _method_list(_method(report))
    body += "<h2>Elasticsearch queries</h2>" + _queries(report)
    return _page(f"Search-term report: {source.case}",
                 f"{len(report.rows)} terms; generated {source.generated_at}", body)


def _term_summary(report: TermReport) -> str:
    largest = max([row.counts.hits for row in report.rows] + [1])
    rows = [_summary_row(row, row.term, _bar(row.counts.hits, largest),
                         ZERO if not row.counts.hits else "") for row in report.rows]
    rows.append(_summary_row(report.totals, TOTAL_LABEL, "", TOTAL))
    zero = sum(1 for row in report.rows if not row.counts.hits)
    note = f"<p class=\"note\">{zero} term(s) hit nothing (greyed): worth checking for typos " \
        f"or a narrower form than intended.</p>" if zero else ""
    return _table(TERM_HEADINGS, rows) + note


def _bar(value: int, largest: int) -> str:
    width = round(120 * value / largest)
    return f"<span class=\"bar\" style=\"width:{width}px\"></span>" if width else ""


def _summary_row(row: TermRow, label: str, bar: str, attributes: str) -> str:
    return (f"<tr{attributes}><td class=\"l\"><code>{escape(label)}</code></td>"
            f"<td>{bar}{_format(row.counts.hits)}</td>{_cell(row.counts.unique_hits)}"
            f"{_cell(row.counts.family_hits)}</tr>")


def _term_by_custodian(report: TermReport) -> str:
    top = "<tr><th class=\"l\" rowspan=\"2\">Term</th>" + "".join(
        f"<th class=\"group\" colspan=\"3\">{escape(name)}</th>" for name in report.custodians) \
        + "</tr>"
    sub = "<tr>" + "<th>Hits</th><th>Unique</th><th>Family</th>" * len(report.custodians) + \
        "</tr>"
    rows = [_custodian_cells(row, row.term, report.custodians,
                             ZERO if not row.counts.hits else "") for row in report.rows]
    rows.append(_custodian_cells(report.totals, TOTAL_LABEL, report.custodians, TOTAL))
    return f"<div class=\"scroll\"><table>{top}{sub}{''.join(rows)}</table></div>"


def _custodian_cells(row: TermRow, label: str, custodians: Sequence[str],
                     attributes: str) -> str:
    cells = "".join(_cell(value) for value in _term_cells(row, custodians, label)[4:])
    return f"<tr{attributes}><td class=\"l\"><code>{escape(label)}</code></td>{cells}</tr>"


def _queries(report: TermReport) -> str:
    parts = [f"<details><summary><code>{escape(row.term)}</code></summary><pre>"
             f"{escape(json.dumps(row.query, indent=2, ensure_ascii=False))}</pre></details>"
             for row in report.rows + (report.totals,)]
    return "".join(parts)


# --- the custodian report ---------------------------------------------------------------------

CUSTODIAN_HEADINGS = ("Custodian", "Items", "Unique", "Duplicates", "Exceptions", "Threads",
                      "First date", "Last date", "Undated", "Linked records")


def _overview_cells(figures: CustodianFigures, missing: str = "") -> list[Any]:
    return [figures.custodian, figures.items, figures.unique, figures.duplicates,
            figures.exceptions, figures.threads, _day(figures.first_date) or missing,
            _day(figures.last_date) or missing, figures.undated, figures.records_count]


def _day(value: str | None) -> str:
    return value[:10] if value else ""


def custodian_csv(report: CustodianReport) -> bytes:
    types = sorted({t for figures in report.custodians for t in figures.by_type})
    heading = list(CUSTODIAN_HEADINGS) + [f"Type: {t}" for t in types] + \
        ["Record ids", "Top correspondents"]
    rows = [heading]
    for figures in report.custodians:
        rows.append(_overview_cells(figures)
                    + [figures.by_type.get(t, {}).get("total", 0) for t in types]
                    + ["; ".join(figures.records),
                       "; ".join(f"{c.address} ({c.items})" for c in figures.correspondents)])
    return _csv_bytes(rows)


def custodian_html(report: CustodianReport) -> bytes:
    source, stats = report.provenance, report.stats
    body = _meta(source)
    body += "<h2>Case totals</h2>" + _case_totals(stats)
    body += "<h2>Custodians</h2>" + _table(
        CUSTODIAN_HEADINGS,
        ["<tr>" + "".join(_cell(v, left=i == 0)
                          for i, v in enumerate(_overview_cells(f, missing="–")))
         + "</tr>" for f in report.custodians])
    body += _unheld_note(stats)
    body += "".join(_custodian_section(figures) for figures in report.custodians)
    body += "<h2>How the figures are counted</h2>" + _method_list(_method(report))
    return _page(f"Custodian report: {source.case}",
                 f"{len(report.custodians)} custodian(s); generated {source.generated_at}", body)


def _unheld_note(stats: dict[str, Any]) -> str:
    """Case records come from no custodian's sources, so custodians' items add up to less."""
    unheld = stats["items"]["total"] - sum(c["total"] for c in stats["by_custodian"].values())
    if unheld <= 0:
        return ""
    return (f"<p class=\"note\">{unheld:,} item(s) of the case are in no custodian's sources "
            f"(case records, for instance), so the custodians' items add up to less than the "
            f"case total. Records appear above as linked to the custodians they name.</p>")


def _case_totals(stats: dict[str, Any]) -> str:
    tiles = _tiles([("Items", stats["items"]["total"]), ("Unique", stats["items"]["unique"]),
                    ("Exceptions", stats["exceptions"])])
    by_type = _table(("Type", "Items", "Unique"),
                     [f"<tr>{_cell(name, True)}{_cell(c['total'])}{_cell(c['unique'])}</tr>"
                      for name, c in stats["by_type"].items()])
    return tiles + by_type + "<p class=\"note\">The same figures as <code>trawl stats</code>." \
        "</p>"


def _tiles(figures: Iterable[tuple[str, Any]]) -> str:
    return "<div class=\"tiles\">" + "".join(
        f"<div class=\"tile\"><b>{escape(_format(v))}</b><span>{escape(k)}</span></div>"
        for k, v in figures) + "</div>"


def _custodian_section(figures: CustodianFigures) -> str:
    dates = f"{_day(figures.first_date)} to {_day(figures.last_date)}" \
        if figures.first_date else "no dated items"
    tiles = _tiles([("Items", figures.items), ("Unique", figures.unique),
                    ("Duplicates", figures.duplicates), ("Exceptions", figures.exceptions),
                    ("Threads", figures.threads), ("Linked records", figures.records_count)])
    by_type = _table(("Type", "Items", "Unique"),
                     [f"<tr>{_cell(t, True)}{_cell(c['total'])}{_cell(c['unique'])}</tr>"
                      for t, c in sorted(figures.by_type.items())]) \
        if figures.by_type else "<p class=\"note\">No items.</p>"
    return (f"<section class=\"custodian\"><h2>{escape(figures.custodian)}</h2>"
            f"<p class=\"sub\">Dated {escape(dates)}</p>{tiles}"
            f"<h3>Items per month (by item date)</h3>{_volume(figures)}"
            f"<div class=\"cols\"><div><h3>Items by type</h3>{by_type}</div>"
            f"<div><h3>Top correspondents</h3>{_correspondents(figures)}</div>"
            f"<div><h3>Linked case records</h3>{_records(figures)}</div></div></section>")


def _volume(figures: CustodianFigures) -> str:
    if not figures.months:
        return "<p class=\"note\">No dated items.</p>"
    note = f"<p class=\"note\">{figures.undated:,} undated item(s) not shown.</p>" \
        if figures.undated else ""
    return month_chart(figures.months, f"Items per month held by {figures.custodian}") + note


def _correspondents(figures: CustodianFigures) -> str:
    if not figures.correspondents:
        return "<p class=\"note\">No addresses.</p>"
    rows = [f"<tr>{_cell(c.address, True)}{_cell(c.as_sender)}{_cell(c.as_recipient)}"
            f"{_cell(c.items)}</tr>" for c in figures.correspondents]
    return _table(("Address", "As sender", "As recipient", "Items"), rows)


def _records(figures: CustodianFigures) -> str:
    if not figures.records_count:
        return "<p class=\"note\">None.</p>"
    shown = ", ".join(escape(record) for record in figures.records)
    unnamed = figures.records_count - len(figures.records)
    extra = f" and {unnamed} without a record id" if unnamed > 0 else ""
    return f"<p>{figures.records_count:,}: {shown}{escape(extra)}</p>"


# --- the SVG bar chart ------------------------------------------------------------------------

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
               "Dec")
CHART_WIDTH, CHART_HEIGHT = 1000, 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 54, 12, 12, 44
MAX_LABELS = 16
MIN_SLOTS = 12


def nice_step(largest: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` gridlines."""
    if largest <= ticks:
        return 1
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def month_label(month: str, with_year: bool) -> str:
    """'2002-03' -> 'Mar', or 'Mar 2002' where a label starts a new year."""
    year, number = month.split("-")
    name = MONTH_NAMES[int(number) - 1]
    return f"{name} {year}" if with_year else name


def month_chart(months: Sequence[tuple[str, int]], title: str) -> str:
    """An inline SVG bar chart of (YYYY-MM, count) pairs, one bar per month."""
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    largest = max(count for _, count in months) or 1
    step = nice_step(largest)
    top = step * math.ceil(largest / step)
    # At least MIN_SLOTS slots wide, so a custodian with one month of mail gets one slim bar.
    slot = plot_width / max(len(months), MIN_SLOTS)
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 "
             f"{CHART_WIDTH} {CHART_HEIGHT}\" width=\"100%\" style=\"max-width:{CHART_WIDTH}px;"
             f"background:#fff;border:1px solid #d9dde5;border-radius:6px\">"
             f"<title>{escape(title)}</title>"]
    parts += _gridlines(top, step, plot_height)
    parts += _bars(months, top, slot, plot_height)
    parts += _month_labels(months, slot, plot_height)
    parts.append("</svg>")
    return "".join(parts)


def _y(value: float, top: int, plot_height: float) -> float:
    return MARGIN_TOP + plot_height * (1 - value / top)


def _gridlines(top: int, step: int, plot_height: float) -> list[str]:
    lines = []
    for value in range(0, top + 1, step):
        y = _y(value, top, plot_height)
        colour = "#9aa3b2" if value == 0 else "#e6e9ef"  # the baseline darker than gridlines
        lines.append(f"<line x1=\"{MARGIN_LEFT}\" x2=\"{CHART_WIDTH - MARGIN_RIGHT}\" "
                     f"y1=\"{y:.1f}\" y2=\"{y:.1f}\" stroke=\"{colour}\"/>"
                     f"<text x=\"{MARGIN_LEFT - 6}\" y=\"{y + 4:.1f}\" text-anchor=\"end\" "
                     f"font-size=\"11\" fill=\"#5a6272\">{value:,}</text>")
    return lines


def _bars(months: Sequence[tuple[str, int]], top: int, slot: float,
          plot_height: float) -> list[str]:
    gap = min(4.0, slot * 0.2)
    bars = []
    for index, (month, count) in enumerate(months):
        if not count:
            continue
        y = _y(count, top, plot_height)
        height = MARGIN_TOP + plot_height - y
        bars.append(f"<rect x=\"{MARGIN_LEFT + index * slot + gap / 2:.1f}\" y=\"{y:.1f}\" "
                    f"width=\"{max(slot - gap, 1):.1f}\" height=\"{height:.1f}\" "
                    f"fill=\"#3d6fb6\"><title>{month}: {count:,} item(s)</title></rect>")
    return bars


def labelled_months(months: Sequence[str]) -> list[tuple[int, str]]:
    """(bar index, label): every month when few, quarters up to three years, else years."""
    if len(months) <= MAX_LABELS:
        chosen = list(range(len(months)))
    elif len(months) <= 36:
        chosen = [i for i, month in enumerate(months) if month[5:7] in ("01", "04", "07", "10")]
    else:
        januaries = [i for i, month in enumerate(months) if month.endswith("-01")]
        every = max(1, math.ceil(len(januaries) / MAX_LABELS))
        return [(i, months[i][:4]) for i in januaries[::every]]
    labels, last_year = [], ""
    for index in chosen:
        with_year, last_year = months[index][:4] != last_year, months[index][:4]
        labels.append((index, month_label(months[index], with_year)))
    return labels


def _month_labels(months: Sequence[tuple[str, int]], slot: float,
                  plot_height: float) -> list[str]:
    baseline = MARGIN_TOP + plot_height
    labels = []
    for index, label in labelled_months([month for month, _ in months]):
        x = MARGIN_LEFT + (index + 0.5) * slot
        labels.append(f"<line x1=\"{x:.1f}\" x2=\"{x:.1f}\" y1=\"{baseline}\" "
                      f"y2=\"{baseline + 4}\" stroke=\"#9aa3b2\"/>"
                      f"<text x=\"{x:.1f}\" y=\"{baseline + 17}\" text-anchor=\"middle\" "
                      f"font-size=\"11\" fill=\"#1d2330\">{label}</text>")
    return labels
