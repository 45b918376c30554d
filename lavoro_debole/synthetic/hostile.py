"""Hostile and broken files, for the tests and the benchmark of bounded reading (issue 9).

Each builder returns the bytes of one file that is small on disk (or modest, with the
sizes given) and asks a naive reader for far more than it is: a cell far away, a zip
entry that inflates hugely, an ODS repeat count, HTML colspans, a CSV line without
end. Written by hand, byte by byte, so that what each file declares is known exactly.
None holds a personal value.
"""

from __future__ import annotations

import io
import re
import zipfile

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _xlsx(sheet_xml: bytes | None, sheet_name: str = "Foglio1", *, filler: int = 0) -> bytes:
    """A minimal xlsx with one sheet; ``filler`` spaces are streamed into its sheetData."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=sheet_name))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        assert sheet_xml is not None
        if not filler:
            archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        else:
            head, tail = sheet_xml.split(b"<sheetData>", 1)
            info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=filler > 1 << 30) as out:
                out.write(head + b"<sheetData>")
                chunk = b" " * (1 << 20)
                left = filler
                while left > 0:
                    out.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
                out.write(tail)
    return buffer.getvalue()


def far_cell_xlsx(sheet_name: str = "Foglio1") -> bytes:
    """One cell at ``XFD1048576``, the last of a sheet, as Excel saves it (with its
    ``<dimension>``): the grid from A1 would be 17,179,869,184 cells."""
    sheet = (
        f'{_SHEET_HEAD}<dimension ref="XFD1048576"/><sheetData><row r="1048576">'
        f"{_inline('XFD1048576', 'x')}</row></sheetData></worksheet>"
    )
    return _xlsx(sheet.encode(), sheet_name)


def far_cell_undeclared_xlsx(sheet_name: str = "Foglio1") -> bytes:
    """Cells at A1 and XFD1048576 and no ``<dimension>``: nothing declares the size,
    and calamine's dense range would need 512 GiB (it aborts when it cannot)."""
    sheet = (
        f'{_SHEET_HEAD}<sheetData><row r="1">{_inline("A1", "a")}</row><row r="1048576">'
        f"{_inline('XFD1048576', 'x')}</row></sheetData></worksheet>"
    )
    return _xlsx(sheet.encode(), sheet_name)


def zip_bomb_xlsx(expanded_bytes: int, sheet_name: str = "Foglio1") -> bytes:
    """A valid xlsx whose sheet XML inflates to ``expanded_bytes`` (blank filler):
    about 1,000:1, so 8 MB on disk for 8 GB."""
    sheet = (
        f'{_SHEET_HEAD}<dimension ref="A1"/><sheetData><row r="1">{_inline("A1", "a")}</row>'
        "</sheetData></worksheet>"
    )
    return _xlsx(sheet.encode(), sheet_name, filler=expanded_bytes)


_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)
_ODS_CONTENT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="{name}">{rows}</table:table>'
    "</office:spreadsheet></office:body></office:document-content>"
)


def _ods(rows_xml: str, sheet_name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr("META-INF/manifest.xml", _ODS_MANIFEST)
        archive.writestr("content.xml", _ODS_CONTENT.format(name=sheet_name, rows=rows_xml))
    return buffer.getvalue()


def _ods_text_cell(text: str, repeat: int = 1) -> str:
    attr = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return (
        f'<table:table-cell office:value-type="string"{attr}><text:p>{text}</text:p>'
        "</table:table-cell>"
    )


def ods_repeated_rows(repeat: int, sheet_name: str = "Foglio1") -> bytes:
    """Under 1 KB: one row of three filled cells with ``number-rows-repeated``."""
    row = (
        f'<table:table-row table:number-rows-repeated="{repeat}">'
        + "".join(_ods_text_cell(t) for t in ("a", "b", "c"))
        + "</table:table-row>"
    )
    return _ods(row, sheet_name)


def ods_repeated_cell(repeat: int, sheet_name: str = "Foglio1") -> bytes:
    """Under 1 KB: one filled cell with ``number-columns-repeated``."""
    return _ods(f"<table:table-row>{_ods_text_cell('x', repeat)}</table:table-row>", sheet_name)


def ods_trailing_blank_repeats(sheet_name: str = "Foglio1") -> bytes:
    """What LibreOffice really writes: data, then huge repeats of *empty* cells and rows
    (nothing to expand): a real file, that must load."""
    header = "".join(_ods_text_cell(t) for t in ("Codice fiscale", "Nome"))
    data = "".join(_ods_text_cell(t) for t in ("X", "Y"))
    blank_cells = '<table:table-cell table:number-columns-repeated="16382"/>'
    rows = (
        f"<table:table-row>{header}{blank_cells}</table:table-row>"
        f"<table:table-row>{data}{blank_cells}</table:table-row>"
        '<table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    return _ods(rows, sheet_name)


def encrypted_ods(ods: bytes) -> bytes:
    """The same .ods with its content declared encrypted in META-INF/manifest.xml, as a
    password-protected LibreOffice file lists it."""
    source = zipfile.ZipFile(io.BytesIO(ods))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "META-INF/manifest.xml":
                data = re.sub(
                    rb'(<manifest:file-entry[^>]*full-path="content.xml"[^>]*?)\s*/>',
                    rb"\1><manifest:encryption-data manifest:checksum-type="
                    rb'"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k" '
                    rb'manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name='
                    rb'"http://www.w3.org/2001/04/xmlenc#aes256-cbc" '
                    rb'manifest:initialisation-vector="AAAA"/></manifest:encryption-data>'
                    rb"</manifest:file-entry>",
                    data,
                )
            archive.writestr(info, data)
    return buffer.getvalue()


def encrypted_xls(xls: bytes) -> bytes:
    """The same .xls with a FILEPASS record right after the workbook's BOF, as Excel
    writes a password-protected file (RC4). The records that follow BOF in an xlwt
    file (INTERFACEHDR, MMS, INTERFACEEND: 16 bytes) are overwritten by a FILEPASS of
    the same total length, so the OLE2 container stays consistent."""
    bof = re.search(rb"\x09\x08\x10\x00\x00\x06\x05\x00", xls)
    assert bof is not None, "not a BIFF8 workbook"
    start = bof.start() + 4 + 16
    assert xls[start : start + 2] == b"\xe1\x00", "unexpected record after BOF"
    filepass = b"\x2f\x00\x0c\x00" + b"\x01\x00" + b"\x01\x00" + b"\x00" * 8
    return xls[:start] + filepass + xls[start + len(filepass) :]


def html_colspans(rows: int, cells_per_row: int, colspan: int) -> bytes:
    """An HTML "xls" (what web applications export) whose cells span many columns."""
    row = "<tr>" + f'<td colspan="{colspan}">x</td>' * cells_per_row + "</tr>"
    return ("<html><body><table>" + row * rows + "</table></body></html>").encode()


def long_line_csv(line_bytes: int) -> bytes:
    """A header, then one line of ``line_bytes`` bytes with no separator and no end."""
    return b"Codice fiscale;Nome\r\n" + b"a" * line_bytes


def csv_with_nuls(body: bytes, every: int = 5000) -> bytes:
    """A text CSV with a NUL byte inserted every ``every`` bytes (after the first 64 KiB
    too), as a careless export leaves them."""
    return b"\x00".join(body[start : start + every] for start in range(0, len(body), every))
