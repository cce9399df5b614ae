"""Text extraction: each supported type from real files made here, and the errors a user sees."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from wirework.knowledge.extract import (
    CSV,
    DOCX,
    HTML,
    MARKDOWN,
    MAX_INPUT_BYTES,
    PDF,
    TEXT,
    ExtractionError,
    extract_text,
)


def make_pdf(pages: list[str]) -> bytes:
    """A real PDF whose pages show `pages` in Helvetica, with a correct cross-reference table."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(len(pages)).encode() + b" >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines = escaped.split("\n")
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"] + [f"({line}) Tj T*" for line in lines] + ["ET"]
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_ids[i] + 1} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted(pdf: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Refund policy", level=1)
    document.add_paragraph("Refunds are paid within 14 days of the return.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Refund window"
    table.cell(1, 0).text, table.cell(1, 1).text = "Pro", "30 days"
    document.add_paragraph("Contact billing@example.com for exceptions.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def error_of(data: bytes, filename: str, mime_type: str | None = None) -> str:
    with pytest.raises(ExtractionError) as raised:
        extract_text(data, filename=filename, mime_type=mime_type)
    assert raised.value.status == 422
    return raised.value.detail


# --- each type ---------------------------------------------------------------------------------


def test_plain_text_in_utf8_windows_1252_and_utf16() -> None:
    body = "Crème brûlée costs 5 €, served with coffee or tea, every day from noon until late."
    got = extract_text(f"{body}\r\n{body}\r\nA stray NUL\x00 is dropped.".encode(), filename="menu.txt")
    assert got.text == f"{body}\n{body}\nA stray NUL is dropped."
    assert got.mime_type == TEXT
    assert extract_text("Café à la carte".encode("cp1252"), filename="old.txt").text == "Café à la carte"
    assert extract_text("Grüße".encode("utf-16"), filename="w.txt").text == "Grüße"
    assert extract_text(
        "Ünïcode".encode("latin-1"), filename="x.txt", mime_type="text/plain; charset=latin-1"
    ).text == ("Ünïcode")


def test_markdown_keeps_its_text_and_structure() -> None:
    source = "# Setup\n\n1. Install `wirework`\n2. Run **make run**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    got = extract_text(source.encode(), filename="README.md")
    assert got.mime_type == MARKDOWN
    assert got.text == source.strip("\n")


def test_html_gives_visible_text_without_scripts_styles_or_hidden_parts() -> None:
    page = b"""<!DOCTYPE html><html><head><title>Opening hours</title>
    <style>body { color: red }</style><script>var secret = "do not index";</script></head>
    <body><nav hidden>Skip <b>this</b> menu</nav>
    <h1>Opening   hours</h1><p>Mon&ndash;Fri 9&nbsp;am to 5 pm<br>Sat closed &amp; Sun closed</p>
    <ul><li>Berlin</li><li>Hamburg</li></ul>
    <table><tr><th>City</th><th>Phone</th></tr><tr><td>Berlin</td><td>030 1234</td></tr></table>
    <noscript>Enable JavaScript</noscript><script>track()</script></body></html>"""
    got = extract_text(page, filename="hours.html")
    assert got.mime_type == HTML
    assert "do not index" not in got.text and "track()" not in got.text and "color" not in got.text
    assert "Skip" not in got.text and "Enable JavaScript" not in got.text
    # The title is not repeated when the page starts with it; spaces (and &nbsp;) collapse to one.
    assert got.text.startswith("Opening hours\n\nMon\u2013Fri 9 am to 5 pm\nSat closed & Sun closed\n\n")
    titled = extract_text(b"<title>Shop</title><p>Welcome</p>", filename="t.htm")
    assert titled.text == "Shop\n\nWelcome"
    assert "- Berlin\n- Hamburg" in got.text
    assert "City | Phone\nBerlin | 030 1234" in got.text


def test_pdf_text_from_every_page() -> None:
    pdf = make_pdf(["Invoice 2026-001\nTotal due: 120 EUR", "Page two: payment terms (30 days)"])
    got = extract_text(pdf, filename="invoice.pdf")
    assert got.mime_type == PDF
    assert "Invoice 2026-001" in got.text and "Total due: 120 EUR" in got.text
    assert "payment terms (30 days)" in got.text
    assert got.text.index("Invoice") < got.text.index("Page two")


def test_pdf_with_owner_password_only_is_read_with_user_password_is_refused() -> None:
    pdf = make_pdf(["Confidential roadmap"])
    assert "Confidential roadmap" in extract_text(encrypted(pdf, user_password=""), filename="r.pdf").text
    detail = error_of(encrypted(pdf, user_password="hunter2"), "roadmap.pdf")
    assert detail.startswith("roadmap.pdf: the PDF is encrypted with a password")


def test_pdf_without_text_says_so() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    assert error_of(out.getvalue(), "scan.pdf") == "scan.pdf: no text found (a scanned PDF needs OCR first)"


def test_docx_paragraphs_and_tables_in_order() -> None:
    got = extract_text(make_docx(), filename="policy.docx")
    assert got.mime_type == DOCX
    assert got.text == (
        "Refund policy\n\nRefunds are paid within 14 days of the return.\n\n"
        "Plan | Refund window\nPro | 30 days\n\nContact billing@example.com for exceptions."
    )


def test_csv_rows_become_column_value_lines() -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(
        [["sku", "name", "price"], ["A-1", "Widget, large", "9.99"], ["B-2", "Gadget\nwith note", ""]]
    )
    got = extract_text(out.getvalue().encode(), filename="products.csv")
    assert got.mime_type == CSV
    assert got.text == "sku: A-1\nname: Widget, large\nprice: 9.99\n\nsku: B-2\nname: Gadget\nwith note"
    semicolons = extract_text(b"land;hauptstadt\nDeutschland;Berlin\nFrankreich;Paris\n", filename="l.csv")
    assert semicolons.text == "land: Deutschland\nhauptstadt: Berlin\n\nland: Frankreich\nhauptstadt: Paris"


def test_type_from_mime_or_first_bytes_when_the_name_has_no_extension() -> None:
    assert extract_text(b"<p>Hi <b>there</b></p>", filename="page", mime_type="text/html").text == "Hi there"
    assert extract_text(make_pdf(["Sniffed"]), filename="upload").mime_type == PDF
    assert (
        extract_text(make_docx(), filename="upload", mime_type="application/octet-stream").mime_type == DOCX
    )
    assert extract_text(b"just words", filename="notes").mime_type == TEXT
    assert extract_text(b"reStructuredText body", filename="guide.rst", mime_type="text/x-rst").text == (
        "reStructuredText body"
    )


# --- errors ------------------------------------------------------------------------------------


def test_corrupt_and_truncated_pdfs() -> None:
    assert error_of(b"%PDF-1.7\n garbage \x00\x01 not a pdf at all", "broken.pdf").startswith(
        "broken.pdf: not a readable PDF ("
    )
    truncated = make_pdf(["Some text that will be cut"])[:60]
    assert error_of(truncated, "cut.pdf").startswith("cut.pdf: not a readable PDF (")
    assert (
        error_of(b"Hello, I am text", "fake.pdf")
        == "fake.pdf: not a readable PDF (it does not start with %PDF-)"
    )


def test_corrupt_docx() -> None:
    assert error_of(b"definitely not a zip", "letter.docx").startswith(
        "letter.docx: not a readable Word document"
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "not word")
    assert error_of(archive.getvalue(), "letter.docx") == (
        "letter.docx: not a Word document (.docx): it has no word/document.xml"
    )


def test_empty_and_blank_files() -> None:
    assert error_of(b"", "empty.txt") == "empty.txt: empty file"
    assert error_of(b" \n\t\r\n ", "blank.md") == "blank.md: no text found"
    assert error_of(b"<html><script>only()</script></html>", "s.html") == "s.html: no text found"


def test_unsupported_types_name_what_is_supported() -> None:
    assert error_of(b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe") == (
        "setup.exe: unsupported type .exe; use txt, md, html, pdf, docx or csv"
    )
    assert error_of(b"\x89PNG\r\n\x1a\n\x00\x00", "image", "image/png") == (
        "image: unsupported type image/png; use txt, md, html, pdf, docx or csv"
    )
    assert "looks like a binary file" in error_of(b"abc\x00\x00\x00def", "data.txt")


def test_input_larger_than_the_cap_is_refused() -> None:
    detail = error_of(b"a" * (MAX_INPUT_BYTES + 1), "huge.txt")
    size = f"{MAX_INPUT_BYTES + 1:,}"
    assert detail == f"huge.txt: the file is {size} bytes; at most {MAX_INPUT_BYTES:,} bytes can be read"


def test_docx_that_unpacks_past_the_caps_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.knowledge import extract

    data = make_docx()
    monkeypatch.setattr(extract, "MAX_DOCX_XML", 100)
    assert "the document's text part unpacks to" in error_of(data, "big.docx")
    monkeypatch.setattr(extract, "MAX_DOCX_XML", 64 * 1024 * 1024)
    monkeypatch.setattr(extract, "MAX_DOCX_UNCOMPRESSED", 1000)
    assert "big.docx: the document unpacks to" in error_of(data, "big.docx")


def test_pdf_page_that_decompresses_past_the_bound_is_refused_fast() -> None:
    # 20 MB of drawing operators in a 20 KB stream: refused while decompressing, not parsed.
    bomb = zlib.compress(b"0 0 m 1 1 l S\n" * 1_500_000, 9)
    pdf = make_pdf(["placeholder"])
    start = pdf.index(b"5 0 obj")
    end = pdf.index(b"endobj", start)
    stream = b"5 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream\n" % (len(bomb), bomb)
    detail = error_of(pdf[:start] + stream + pdf[end:], "bomb.pdf")
    assert detail.startswith("bomb.pdf: page 1 is too large or complex to read (")
