"""A :class:`~console.services.reports.Report` as CSV, as an XLSX workbook with native charts (xlsxwriter),
or as a PDF with a title page, plots (matplotlib, Agg), tables and page numbers (reportlab).

Blocking: called from the report service's worker thread. matplotlib is used through ``Figure`` and the
Agg canvas directly, never ``pyplot``: no global state, no GUI backend, safe off the main thread.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.services.reports import Chart, Report, ReportFormat, Section, Table

NAN_TEXT = "–"
PLOT_ASPECT = 0.36  # height / width of a plot on the page: two plots and the tables fit one A4 page


def render(report: Report, fmt: ReportFormat, out: Path) -> None:
    """Write ``report`` to ``out`` in ``fmt`` (written to a temporary file first, then moved: a cancelled
    or failed report leaves no half-written file behind)."""
    tmp = out.with_name(out.name + ".part")
    try:
        {ReportFormat.CSV: render_csv, ReportFormat.XLSX: render_xlsx, ReportFormat.PDF: render_pdf}[fmt](report, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def period_text(report: Report) -> str:
    return f"{_utc(report.t0)} – {_utc(report.t1)} UTC"


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def cell_text(v: str | float) -> str:
    """A table value as a reader sees it: numbers to a sensible precision, no value as a dash."""
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return NAN_TEXT
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}" if a < 0.1 and v != 0 else f"{v:.2f}"


# ---- CSV ------------------------------------------------------------------------------------------------

def render_csv(report: Report, out: Path) -> None:
    """Every table, one after another: a ``# section: table`` line, the header, the rows (numbers in full
    precision, no value empty), a blank line."""
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["# site", report.site])
        w.writerow(["# period UTC", _utc(report.t0), _utc(report.t1)])
        w.writerow(["# generated UTC", _utc(report.generated_at)])
        w.writerow([])
        for section in report.sections:
            for table in section.tables:
                w.writerow([f"# {section.title}: {table.title}"])
                w.writerow(table.header)
                for row in table.rows:
                    w.writerow(["" if isinstance(v, float) and not math.isfinite(v) else
                                (repr(v) if isinstance(v, float) else v) for v in row])
                w.writerow([])


# ---- XLSX -----------------------------------------------------------------------------------------------

def render_xlsx(report: Report, out: Path) -> None:
    """A summary sheet, then one sheet per section: its tables (formatted) and a native chart per chart,
    whose data sits in columns to the right of the tables."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(out), {"nan_inf_to_errors": True})
    try:
        title = wb.add_format({"bold": True, "font_size": 14})
        bold = wb.add_format({"bold": True})
        head = wb.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "top"})
        num = wb.add_format({"num_format": "#,##0.000", "border": 1})
        text = wb.add_format({"border": 1})
        when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        summary = wb.add_worksheet("Summary")
        summary.write(0, 0, f"EnergyNet report — {report.site}", title)
        for i, (k, value) in enumerate((("Site", report.site), ("Period", period_text(report)),
                                    ("Generated", f"{_utc(report.generated_at)} UTC"))):
            summary.write(2 + i, 0, k, bold)
            summary.write(2 + i, 1, value)
        for i, s in enumerate(report.sections):
            summary.write(6 + i, 0, s.title)
        summary.set_column(0, 0, 16)
        summary.set_column(1, 1, 40)
        for section in report.sections:
            ws = wb.add_worksheet(section.title[:31])
            ws.write(0, 0, section.title, title)
            row = 2
            width = 1
            for table in section.tables:
                ws.write(row, 0, table.title, bold)
                ws.write_row(row + 1, 0, table.header, head)
                for r, values in enumerate(table.rows):
                    for c, v in enumerate(values):
                        if isinstance(v, str):
                            ws.write_string(row + 2 + r, c, v, text)
                        elif math.isfinite(v):
                            ws.write_number(row + 2 + r, c, v, num)
                        else:
                            ws.write_blank(row + 2 + r, c, None, text)
                width = max(width, len(table.header))
                row += len(table.rows) + 4
            ws.set_column(0, 0, 22)
            ws.set_column(1, width - 1, 14)
            for n, note in enumerate(section.notes):
                ws.write(row + n, 0, note)
            row += len(section.notes) + 1
            data_col = width + 1
            for chart in section.charts:
                data_col = _xlsx_chart(wb, ws, section.title[:31], chart, row, data_col, bold, when)
                row += 22
    finally:
        wb.close()


def _xlsx_chart(wb: Any, ws: Any, sheet: str, chart: Chart, at_row: int, col: int, bold: Any, when: Any) -> int:
    """Write the chart's data in columns from ``col`` and insert a native chart at ``at_row``; returns the
    first column after the data."""
    is_time = chart.kind == "line"
    ws.write(0, col, chart.title, bold)
    ws.write(1, col, "time UTC" if is_time else "")
    n = len(chart.x)
    for i, x in enumerate(chart.x):
        if is_time:
            ws.write_datetime(2 + i, col, datetime.fromtimestamp(float(x), UTC).replace(tzinfo=None), when)
        else:
            ws.write_string(2 + i, col, str(x))
    ws.set_column(col, col, 17 if is_time else 12)
    c = wb.add_chart({"type": "line" if is_time else "column"})
    for k, (name, values) in enumerate(chart.series):
        ws.write(1, col + 1 + k, name, bold)
        for i, v in enumerate(values):
            if math.isfinite(v):
                ws.write_number(2 + i, col + 1 + k, v)
        series: dict[str, Any] = {"name": [sheet, 1, col + 1 + k], "categories": [sheet, 2, col, 1 + n, col],
                                  "values": [sheet, 2, col + 1 + k, 1 + n, col + 1 + k]}
        if is_time:
            series["line"] = {"width": 1.0}
        c.add_series(series)
    c.set_title({"name": chart.title})
    c.set_y_axis({"name": chart.y_label, "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}}})
    if is_time:
        c.set_x_axis({"date_axis": True, "num_format": "dd.mm hh:mm", "num_font": {"rotation": -45}})
        c.show_blanks_as("gap")
    c.set_legend({"position": "bottom"})
    c.set_size({"width": 760, "height": 400})
    ws.insert_chart(at_row, 0, c)
    return col + 2 + len(chart.series)


# ---- PDF ------------------------------------------------------------------------------------------------

def render_pdf(report: Report, out: Path) -> None:
    """Title page (site, period, generated at, contents), then per section: notes, plots, tables; every
    page after the title numbered "page N of M" in the footer."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    centred = ParagraphStyle("centred", parent=styles["Normal"], alignment=TA_CENTER, fontSize=11, leading=16)
    site_style = ParagraphStyle("site", parent=styles["Heading1"], alignment=TA_CENTER)
    doc = SimpleDocTemplate(str(out), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"EnergyNet report — {report.site}", author="EnergyNet Console")
    story: list[Any] = [Spacer(1, 55 * mm), Paragraph("EnergyNet report", styles["Title"]),
                        Paragraph(report.site, site_style), Spacer(1, 12 * mm),
                        Paragraph(f"<b>Period</b>: {period_text(report)}", centred),
                        Paragraph(f"<b>Generated</b>: {_utc(report.generated_at)} UTC", centred),
                        Spacer(1, 16 * mm), Paragraph("<b>Contents</b>", centred)]
    story += [Paragraph(f"{i + 1}. {s.title}", centred) for i, s in enumerate(report.sections)]
    for i, section in enumerate(report.sections):
        story.append(PageBreak())
        story.append(Paragraph(f"{i + 1}. {section.title}", styles["Heading1"]))
        story += _pdf_section(section, doc.width, styles, colors)

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(18 * mm, 10 * mm, f"{report.site} · {period_text(report)}")
        canvas.restoreState()

    doc.build(story, onFirstPage=lambda c, d: None, onLaterPages=footer, canvasmaker=_numbered_canvas())


def _pdf_section(section: Section, width: float, styles: Any, colors: Any) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

    flow: list[Any] = [Paragraph(note, styles["Italic"]) for note in section.notes]
    flow.append(Spacer(1, 3 * mm))
    for chart in section.charts:
        png = _plot_png(chart, width / 72.0)
        img = Image(io.BytesIO(png), width=width, height=width * PLOT_ASPECT)
        flow += [img, Spacer(1, 3 * mm)]
    for table in section.tables:
        flow.append(KeepTogether([Paragraph(f"<b>{table.title}</b>", styles["Normal"]), Spacer(1, 2 * mm),
                                  _pdf_table(table, width, colors)]) if len(table.rows) < 30 else
                    Paragraph(f"<b>{table.title}</b>", styles["Normal"]))
        if len(table.rows) >= 30:
            flow.append(_pdf_table(table, width, colors))
        flow.append(Spacer(1, 5 * mm))
    return flow


def _pdf_table(table: Table, width: float, colors: Any) -> Any:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, TableStyle
    from reportlab.platypus import Table as PdfTable

    head_style = ParagraphStyle("th", fontName="Helvetica-Bold", fontSize=7.5, leading=9)
    head = [Paragraph(h, head_style) for h in table.header]
    rows = [[cell_text(v) for v in r] for r in table.rows] or [["no entries"] + [""] * (len(table.header) - 1)]
    first = min(0.3, 1.6 / max(1, len(table.header)))
    rest = (1 - first) / max(1, len(table.header) - 1)
    t = PdfTable([head, *rows], colWidths=[width * first] + [width * rest] * (len(table.header) - 1), repeatRows=1)
    numeric = [c for c in range(len(table.header)) if any(not isinstance(r[c], str) for r in table.rows)]
    style = [("FONT", (0, 0), (-1, -1), "Helvetica", 7.5), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
             ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F4F6F9")])]
    style += [("ALIGN", (c, 1), (c, -1), "RIGHT") for c in numeric]
    if table.rows and table.rows[-1][0] == "All participants":
        style.append(("FONT", (0, len(rows)), (-1, len(rows)), "Helvetica-Bold", 7.5))
    t.setStyle(TableStyle(style))
    return t


def _plot_png(chart: Chart, width_in: float) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, width_in * PLOT_ASPECT), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if chart.kind == "line":
        x: Any = [datetime.fromtimestamp(float(t), UTC) for t in chart.x]
        names = [n for n, _ in chart.series]
        if names == ["min", "mean", "max"]:  # an envelope: the band between min and max, the mean on it
            lo, mean, hi = (s for _, s in chart.series)
            ax.fill_between(x, lo, hi, color="#9DB9D9", alpha=0.6, linewidth=0, label="min–max")
            for edge in (lo, hi):  # a one-bucket spike is narrower than a pixel as a fill: draw its edge too
                ax.plot(x, edge, color="#6F93BF", linewidth=0.5)
            ax.plot(x, mean, color="#1F4E79", linewidth=0.8, label="mean")
        else:
            for name, values in chart.series:
                ax.plot(x, values, linewidth=0.8, label=name)
        locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        # No offset ("2025-Dec" under a November that ends on a 1 December tick): the period is in the footer.
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))  # type: ignore[no-untyped-call]
    else:
        _bars(ax, chart.x, chart.series)
    if chart.y_label == "% of Un":  # the EN 50160 band the 10-minute means must stay in
        ax.axhspan(90, 110, color="#2E7D32", alpha=0.07, linewidth=0)
        ax.axhline(90, color="#2E7D32", linewidth=0.6, linestyle="--")
        ax.axhline(110, color="#2E7D32", linewidth=0.6, linestyle="--")
        y_lo, y_hi = ax.get_ylim()
        ax.set_ylim(min(y_lo, 85.0), max(y_hi, 115.0))
    ax.set_title(chart.title, fontsize=9)
    ax.set_ylabel(chart.y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#DDDDDD", linewidth=0.5)
    ax.set_axisbelow(True)
    if chart.kind == "column" and len(chart.series) > 1:  # right of the plot: clear of slanted labels
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    elif chart.kind == "line":
        ax.legend(fontsize=7, frameon=False, ncols=min(5, len(chart.series) + 1), loc="upper center",
                  bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _bars(ax: Any, labels: Sequence[object], series: Sequence[tuple[str, Sequence[float]]]) -> None:
    n = max(1, len(series))
    width = 0.8 / n
    for k, (name, values) in enumerate(series):
        xs = [i - 0.4 + width * (k + 0.5) for i in range(len(labels))]
        ax.bar(xs, [v if math.isfinite(v) else 0.0 for v in values], width=width, label=name)
    if len(labels) < 4:  # a bar as wide as the page says nothing more than a narrow one
        ax.set_xlim(-1.5, len(labels) + 0.5)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([str(x) for x in labels], rotation=30 if len(labels) > 8 and len(labels) != 24 else 0,
                       ha="right" if len(labels) > 8 and len(labels) != 24 else "center")


def _numbered_canvas() -> Any:
    """A canvas that writes "page N of M" on every page but the title page (two passes: M is known only
    once all pages are laid out)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                if self._pageNumber > 1:
                    self.setFont("Helvetica", 8)
                    self.drawRightString(self._pagesize[0] - 18 * mm, 10 * mm, f"page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas
