"""Every analytics table downloads as CSV (with a BOM, so Excel reads Chinese) or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from django.http import Http404, HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMATS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def table_response(
    *, fmt: str, filename: str, columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]
) -> HttpResponse:
    """``columns`` is [(key, heading)]; rows are dicts. 404 for a format we don't make."""
    if fmt not in FORMATS:
        raise Http404
    headings = [str(heading) for _key, heading in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer)
        writer.writerow(headings)
        for row in rows:
            writer.writerow([_cell(row.get(key)) for key, _heading in columns])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    sheet = (filename[:31], headings, [[_cell(row.get(key)) for key, _heading in columns] for row in rows])
    return workbook_response(filename=filename, sheets=[sheet])


def workbook_response(
    *, filename: str, sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]
) -> HttpResponse:
    """An XLSX download of (title, headings, rows) sheets."""
    response = HttpResponse(workbook_bytes(sheets), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def workbook_bytes(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """An XLSX file of (title, headings, rows) sheets, headings bold and columns sized."""
    book = Workbook()
    book.remove(book.active)
    for title, headings, rows in sheets:
        sheet = book.create_sheet(title=title or "Sheet")
        sheet.append(list(headings))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(value) for value in row])
        for index, heading in enumerate(headings, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(heading)) + 4))
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
