"""Extraction with the operating system as the wall (red-team finding 1): every type but plain text
is read by a child process under address-space, processor-time and wall-clock limits, a few at a
time; a file that meets a limit is refused naming the file and the limit, never a hung worker."""

from __future__ import annotations

import subprocess
import sys
import zlib

import httpx
import pytest

from tests.knowledge.conftest import make_collection, upload
from tests.knowledge.test_extract import make_docx, make_pdf
from tests.security.test_redteam_ai import DOCX_RELS, DOCX_TYPES, _deflated, _zip
from tests.support.accounts import Account
from wirework.errors import ServiceUnavailable
from wirework.knowledge import extract
from wirework.knowledge.extract import ExtractionError, extract_isolated


def heavy_pdf(operators: int) -> bytes:
    """One page drawing `operators` one-letter strings: within pypdf's per-stream bounds, seconds
    of pure Python to read (200,000 took 9 s)."""
    pdf = make_pdf(["placeholder"])
    content = zlib.compress(b"BT /F1 12 Tf 72 712 Td " + b"(a) Tj " * operators + b"ET", 9)
    start = pdf.index(b"5 0 obj")
    end = pdf.index(b"endobj", start)
    stream = b"5 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream\n" % (
        len(content),
        content,
    )
    return pdf[:start] + stream + pdf[end:]


def large_docx(paragraphs: int) -> bytes:
    """A docx of `paragraphs` short distinct paragraphs: an ordinary compression ratio (~20:1), a
    tree of three elements per paragraph in memory."""
    body = b"".join(b"<w:p><w:r><w:t>w%d</w:t></w:r></w:p>" % i for i in range(paragraphs))
    xml = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.'
        b'openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + b"</w:body></w:document>"
    )
    return _zip(
        [
            ("[Content_Types].xml", _deflated(DOCX_TYPES)),
            ("_rels/.rels", _deflated(DOCX_RELS)),
            ("word/document.xml", _deflated(xml)),
        ]
    )


async def test_every_type_reads_the_same_in_the_child() -> None:
    for data, name in (
        (make_pdf(["Refunds within 14 days.", "Page two."]), "a.pdf"),
        (make_docx(), "a.docx"),
        (b"<html><body><p>Visible</p><script>hidden()</script></body></html>", "a.html"),
        (b"plan,window\nPro,30 days\n", "a.csv"),
        ("Plain text, caf\u00e9 \U0001f600".encode(), "a.txt"),
    ):
        assert await extract_isolated(data, filename=name) == extract.extract_text(data, filename=name)
    # The child's own refusals come back as they are.
    with pytest.raises(ExtractionError) as refused:
        await extract_isolated(b"%PDF-1.7\nthis is no pdf", filename="broken.pdf")
    assert refused.value.detail.startswith("broken.pdf: not a readable PDF (")


async def test_a_file_past_the_processor_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "ISOLATED_CPU_S", 1)
    with pytest.raises(ExtractionError) as refused:
        await extract_isolated(heavy_pdf(200_000), filename="heavy.pdf")
    assert refused.value.status == 422
    assert refused.value.detail == (
        "heavy.pdf: the file is too large or complex to read within the limits (it needed more than "
        "1 s of processor time); split it or save it in a simpler form"
    )


async def test_a_file_past_the_memory_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "ISOLATED_MEMORY_BYTES", 64 * 1024 * 1024)
    small = await extract_isolated(large_docx(10), filename="small.docx")  # the child itself fits
    assert small.text.startswith("w0\n\nw1")
    with pytest.raises(ExtractionError) as refused:
        await extract_isolated(large_docx(100_000), filename="large.docx")
    assert refused.value.detail == (
        "large.docx: the file is too large or complex to read within the limits (it needed more than "
        "64 MB of memory); split it or save it in a simpler form"
    )


async def test_the_parent_kills_a_child_past_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "ISOLATED_WALL_S", 0.05)  # less than a Python start-up
    with pytest.raises(ExtractionError) as refused:
        await extract_isolated(make_docx(), filename="slow.docx")
    assert (
        "slow.docx: the file is too large or complex to read within the limits (it took longer than 0.05 s)"
        in (refused.value.detail)
    )
    # Plain text is read in this process (linear work), so no child and no wall-clock kill.
    assert (await extract_isolated(b"plain words", filename="a.txt")).text == "plain words"


async def test_when_every_child_is_busy_the_caller_is_told_to_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_CONCURRENT_EXTRACTIONS", 1)
    async with extract._slot(1.0):  # one reader busy
        with pytest.raises(ServiceUnavailable) as busy:
            await extract_isolated(make_pdf(["x"]), filename="a.pdf", wait_s=0.1)
        assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "30"}
        assert (await extract_isolated(b"text needs no child", filename="a.md")).text == "text needs no child"
    assert (
        await extract_isolated(make_pdf(["free again"]), filename="a.pdf", wait_s=0.1)
    ).text == "free again"


def test_blank_runs_are_cleaned_in_linear_time() -> None:
    """`_clean` stripped blanks with `[ \\t\\f\\v]+\\n`, quadratic on a run without a line end
    (80,000 spaces: 12 s holding the GIL; 1,000,000: hours). Run in a child so the old code is
    killed, not left spinning in this process."""
    code = (
        "from wirework.knowledge.extract import extract_text\n"
        "print(len(extract_text(b'word' + b' ' * 1_000_000 + b'x\\n', filename='a.txt').text))"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("cleaning 1,000,000 blanks took longer than 30 s")
    assert done.stdout.strip() == b"1000005"


async def test_upload_past_a_limit_is_kept_failed_with_the_reason(
    client: httpx.AsyncClient, ann: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "ISOLATED_CPU_S", 1)
    collection = await make_collection(client, ann)
    response = await upload(client, ann, collection, "heavy.pdf", heavy_pdf(200_000))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "failed"
    assert response.json()["error"].startswith(
        "heavy.pdf: the file is too large or complex to read within the limits (it needed more than 1 s"
    )
    monkeypatch.setattr(extract, "MAX_CONCURRENT_EXTRACTIONS", 1)
    monkeypatch.setattr(extract, "SLOT_WAIT_S", 0.1)
    async with extract._slot(1.0):
        busy = await upload(client, ann, collection, "a.pdf", make_pdf(["x"]))
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.headers["retry-after"] == "30"
    assert "try again" in busy.json()["detail"]
