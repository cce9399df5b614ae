"""Text extraction for knowledge bases: the readable text of a txt, md, html, pdf, docx or csv file.

`extract_text` is the synchronous, CPU-bound core. Every input is bounded -- bytes in, characters
out, PDF pages and content streams, zip members of a docx (size and compression ratio), CSV field
size and the time spent -- and every failure is an `ExtractionError` whose message names the file
and says what to do. Nothing here knows HTTP or the database.

Those bounds are checked by the parsers' own code, between pages and blocks; a hostile file can
still make one parser call (lxml on a docx, pypdf on one page, the CSV sniffer, the HTML parser)
take minutes and gigabytes. So async callers use `extract_isolated`: plain text and Markdown
(a decode and a linear clean-up) are read in a thread; every other type is read by a child process
(`knowledge.extract_worker`) with the operating system as the wall -- at most
`ISOLATED_MEMORY_BYTES` of address space, `ISOLATED_CPU_S` of processor time, no core files, no
files written, killed by the parent after `ISOLATED_WALL_S` -- and at most
`MAX_CONCURRENT_EXTRACTIONS` children per process (a caller that waits longer than
`SLOT_WAIT_S` for one is told the server is busy: 503).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import json
import logging
import os
import re
import signal
import sys
import time
import weakref
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any

from wirework.errors import ServiceUnavailable, ValidationFailed

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 20 * 1024 * 1024  # a file to extract (the upload limit of the API too)
MAX_TEXT_CHARS = 5_000_000  # extracted text of one document
MAX_PDF_PAGES = 2_000
# pypdf's own limits, tightened: a content stream of ~1 MB (160,000 operands) takes seconds of pure
# Python to parse, and its defaults allow 75 MB per stream and 2,000,000 operands.
PDF_MAX_STREAM_BYTES = 16 * 1024 * 1024  # one stream, decompressed
PDF_MAX_PARSE_WORK = 500_000  # operands and operators in one content stream
PDF_MAX_FORMS_PER_PAGE = 500  # form XObjects drawn by one page
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024  # all members of a docx, unpacked
MAX_DOCX_XML = 64 * 1024 * 1024  # word/document.xml unpacked (parsed into memory as a tree)
MAX_DOCX_RATIO = 500  # unpacked / packed size of a zip member over 1 MB (deflate's ceiling is ~1,030)
MAX_CSV_FIELD = 1_000_000  # characters in one CSV cell
MAX_SECONDS = 60.0  # checked between pages / rows / blocks

# The operating system's wall around a child that reads a file (`extract_isolated`).
ISOLATED_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of the child
ISOLATED_CPU_S = 60  # processor seconds of the child (then SIGXCPU, SIGKILL 5 s later)
ISOLATED_WALL_S = 90.0  # then the parent kills it
MAX_CONCURRENT_EXTRACTIONS = max(1, min(4, os.cpu_count() or 1))  # children at once per process
SLOT_WAIT_S = 10.0  # how long a caller waits for a free child before a 503
_MAX_ANSWER_BYTES = MAX_TEXT_CHARS * 12 + 65536  # the child's JSON (ASCII escapes) at most

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT, MARKDOWN, HTML, CSV = "text/plain", "text/markdown", "text/html", "text/csv"

SUPPORTED = "txt, md, html, pdf, docx or csv"
_BY_EXTENSION = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
    ".docx": DOCX,
    ".csv": CSV,
}
_BY_MIME = {
    TEXT: TEXT,
    MARKDOWN: MARKDOWN,
    "text/x-markdown": MARKDOWN,
    HTML: HTML,
    "application/xhtml+xml": HTML,
    PDF: PDF,
    DOCX: DOCX,
    CSV: CSV,
    "application/csv": CSV,
}


class ExtractionError(ValidationFailed):
    """A file whose text cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Extracted:
    text: str
    mime_type: str  # the type it was read as (one of the constants above)


def extract_text(data: bytes, *, filename: str, mime_type: str | None = None) -> Extracted:
    """The text of `data`, read as the type its name, its MIME type or its first bytes say."""
    name = filename or "document"
    _check_input(data, name)
    kind, charset = _detect(data, name, mime_type)
    deadline = time.monotonic() + MAX_SECONDS
    reader: Callable[[bytes, str, str | None, float], str] = _READERS[kind]
    text = _clean(reader(data, name, charset, deadline))
    if not text.strip():
        raise ExtractionError(
            f"{name}: no text found" + (" (a scanned PDF needs OCR first)" if kind == PDF else "")
        )
    if len(text) > MAX_TEXT_CHARS:
        raise ExtractionError(
            f"{name}: the text is {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are kept "
            "per document: split it into several documents"
        )
    return Extracted(text=text, mime_type=kind)


def _check_input(data: bytes, name: str) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise ExtractionError(
            f"{name}: the file is {len(data):,} bytes; at most {MAX_INPUT_BYTES:,} bytes can be read"
        )
    if not data:
        raise ExtractionError(f"{name}: empty file")


# --- isolation ----------------------------------------------------------------------------------

IN_PROCESS = frozenset({TEXT, MARKDOWN})
"""Types read in a thread of this process: a decode and a line-by-line clean-up, linear in the
(bounded) input. HTML (html.parser), CSV (its sniffer's regular expressions), PDF and docx go to
a child."""

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


async def extract_isolated(
    data: bytes, *, filename: str, mime_type: str | None = None, wait_s: float | None = None
) -> Extracted:
    """`extract_text` for async callers, with the operating system as the wall (see the module's
    docstring). ExtractionError as `extract_text` raises it, or naming the limit a child hit;
    ServiceUnavailable when no child is free within `wait_s` (default SLOT_WAIT_S)."""
    name = filename or "document"
    _check_input(data, name)
    kind, _ = _detect(data, name, mime_type)
    if kind in IN_PROCESS:
        return await asyncio.to_thread(extract_text, data, filename=name, mime_type=mime_type)
    async with _slot(SLOT_WAIT_S if wait_s is None else wait_s):
        return await _in_child(data, name, mime_type)


@contextlib.asynccontextmanager
async def _slot(wait_s: float) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    size, slots = _slots.get(loop, (0, None))
    if slots is None or size != MAX_CONCURRENT_EXTRACTIONS:
        size, slots = MAX_CONCURRENT_EXTRACTIONS, asyncio.Semaphore(MAX_CONCURRENT_EXTRACTIONS)
        _slots[loop] = (size, slots)
    try:
        async with asyncio.timeout(wait_s):
            await slots.acquire()
    except TimeoutError:
        raise ServiceUnavailable(
            f"The server is reading {size} other file(s) and cannot read this one now; try again "
            "in a minute.",
            headers={"Retry-After": "30"},
        ) from None
    try:
        yield
    finally:
        slots.release()


def _limit_error(name: str, why: str) -> ExtractionError:
    return ExtractionError(
        f"{name}: the file is too large or complex to read within the limits ({why}); "
        "split it or save it in a simpler form"
    )


def _child_env() -> dict[str, str]:
    """Only what Python needs to find the same packages: no secrets from this process's environment."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


class _TooMuchOutput(Exception):
    pass


async def _read_capped(stream: asyncio.StreamReader | None, cap: int, *, keep_tail: bool = False) -> bytes:
    out = bytearray()
    if stream is None:
        return b""
    while piece := await stream.read(65536):
        out += piece
        if len(out) > cap:
            if not keep_tail:
                raise _TooMuchOutput
            del out[: len(out) - cap]
    return bytes(out)


async def _feed(stdin: asyncio.StreamWriter | None, payload: bytes) -> None:
    if stdin is None:
        return
    try:
        stdin.write(payload)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):  # the child stopped early: its exit code says why
        pass
    finally:
        stdin.close()


async def _in_child(data: bytes, name: str, mime_type: str | None) -> Extracted:
    header = json.dumps({"filename": name, "mime_type": mime_type}).encode("ascii") + b"\n"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wirework.knowledge.extract_worker",
        str(ISOLATED_MEMORY_BYTES),
        str(ISOLATED_CPU_S),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
        close_fds=True,
    )
    try:
        async with asyncio.timeout(ISOLATED_WALL_S):
            _, answer, errors = await asyncio.gather(
                _feed(process.stdin, header + data),
                _read_capped(process.stdout, _MAX_ANSWER_BYTES),
                _read_capped(process.stderr, 4096, keep_tail=True),
            )
            code = await process.wait()
    except TimeoutError:
        raise _limit_error(name, f"it took longer than {ISOLATED_WALL_S:g} s") from None
    except _TooMuchOutput:
        raise _limit_error(name, "its text is too long") from None
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(Exception):
                await process.wait()
    if code == 0:
        try:
            result = json.loads(answer)
        except ValueError:
            result = None
        if isinstance(result, dict):
            if isinstance(result.get("text"), str) and isinstance(result.get("mime_type"), str):
                return Extracted(text=result["text"], mime_type=result["mime_type"])
            if isinstance(result.get("error"), str):
                raise ExtractionError(result["error"])
            if result.get("limit") == "memory":
                raise _limit_error(
                    name, f"it needed more than {ISOLATED_MEMORY_BYTES // 2**20:,} MB of memory"
                )
    if code == -signal.SIGXCPU:
        raise _limit_error(name, f"it needed more than {ISOLATED_CPU_S} s of processor time")
    if code == -signal.SIGKILL:  # the hard CPU limit, or the kernel out of memory
        raise _limit_error(name, f"it met the limit of {ISOLATED_CPU_S} s of processor time or of memory")
    log.warning(
        "extracting %r: the child exited with %s: %s", name, code, errors.decode("utf-8", "replace")[-2000:]
    )
    raise _limit_error(name, "the reader stopped without an answer")


# --- detection ----------------------------------------------------------------------------------


def _detect(data: bytes, name: str, mime_type: str | None) -> tuple[str, str | None]:
    mime, charset = _parse_mime(mime_type)
    extension = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    kind = _BY_EXTENSION.get(extension) or _BY_MIME.get(mime or "")
    if kind is None:
        sniffed = _sniff(data)
        if extension and extension not in _BY_EXTENSION and not (mime or "").startswith("text/"):
            if sniffed in (PDF, DOCX):
                kind = sniffed
            else:
                raise ExtractionError(f"{name}: unsupported type {extension}; use {SUPPORTED}")
        elif sniffed is None:
            raise ExtractionError(f"{name}: unsupported type {mime or 'of binary file'}; use {SUPPORTED}")
        else:
            kind = sniffed
    return kind, charset


def _parse_mime(mime_type: str | None) -> tuple[str | None, str | None]:
    if not mime_type:
        return None, None
    parts = [p.strip() for p in mime_type.split(";")]
    charset = None
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return parts[0].lower() or None, charset


def _sniff(data: bytes) -> str | None:
    """The type the first bytes show, or None for a binary file we do not read."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return DOCX if b"word/" in data[:65536] else None
    head = data[:4096]
    if _mostly_binary(head) and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    lowered = head.lower().lstrip()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return HTML
    return TEXT


# --- text ---------------------------------------------------------------------------------------


def _decode(data: bytes, name: str, charset: str | None) -> str:
    """Text from bytes: a BOM wins, then the declared charset, then UTF-8, then Windows-1252."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if _mostly_binary(data[:65536]):
        raise ExtractionError(f"{name}: looks like a binary file, not text (it contains NUL bytes)")
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _mostly_binary(head: bytes) -> bool:
    """More than 1% NUL bytes: not text in an 8-bit encoding or UTF-8 (a stray NUL is dropped)."""
    return head.count(b"\x00") * 100 > len(head)


def _clean(text: str) -> str:
    """Unix line ends, no NUL (PostgreSQL refuses it), no trailing blanks at line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # Line by line: the regular expression `[ \t\f\v]+\n` is quadratic on a long run of blanks
    # without a line end (20,000 spaces took 1 s, 80,000 took 12 s, holding the GIL).
    text = "\n".join(line.rstrip(" \t\f\v") for line in text.split("\n"))
    return text.strip("\n")


def _read_text(data: bytes, name: str, charset: str | None, deadline: float) -> str:
    return _decode(data, name, charset)


# --- html ---------------------------------------------------------------------------------------

_SKIPPED = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object"}
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip
_BLOCKS = {
    "address", "article", "aside", "blockquote", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "ul", "caption", "title", "body", "html",
}  # fmt: skip


class _VisibleText(HTMLParser):
    """Collects the text a browser shows: no scripts, styles, hidden elements or head (but the title)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None  # inside an element whose text is not shown
        self._skip_depth = 0
        self._pre = 0
        self._in_title = False
        self._first_cell = True
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
            return
        hidden = any(k == "hidden" or (k == "aria-hidden" and v == "true") for k, v in attrs)
        if (tag in _SKIPPED or hidden) and tag not in _VOID:
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "tr":
            self.parts.append("\n")
            self._first_cell = True
        elif tag in ("td", "th"):
            self.parts.append("" if self._first_cell else " | ")
            self._first_cell = False
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag == "title":
            self._in_title = False
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_tag is not None:
            return
        if self._in_title:
            self.title += data
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        body = "".join(self.parts)
        lines = [line.strip() for line in body.split("\n")]
        joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        title = re.sub(r"\s+", " ", self.title).strip()
        if title and not joined.startswith(title):
            joined = f"{title}\n\n{joined}"
        return joined


def _read_html(data: bytes, name: str, charset: str | None, deadline: float) -> str:
    if charset is None:
        found = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", data[:4096], re.IGNORECASE)
        charset = found.group(1).decode("ascii").lower() if found else None
    parser = _VisibleText()
    source = _decode(data, name, charset)
    for start in range(0, len(source), 65536):  # in pieces, so the deadline is checked
        parser.feed(source[start : start + 65536])
        _check_deadline(name, deadline)
    parser.close()
    return parser.text()


# --- pdf ----------------------------------------------------------------------------------------


def _read_pdf(data: bytes, name: str, charset: str | None, deadline: float) -> str:
    from pypdf import apply_configuration

    if b"%PDF-" not in data[:1024]:
        raise ExtractionError(f"{name}: not a readable PDF (it does not start with %PDF-)")
    with apply_configuration(  # a context variable: this thread only
        zlib_maximum_output_length=PDF_MAX_STREAM_BYTES,
        lzw_maximum_output_length=PDF_MAX_STREAM_BYTES,
        run_length_maximum_output_length=PDF_MAX_STREAM_BYTES,
        brotli_maximum_output_length=PDF_MAX_STREAM_BYTES,
        array_based_stream_maximum_output_length=PDF_MAX_STREAM_BYTES,
        stream_parsing_work_maximum_count=PDF_MAX_PARSE_WORK,
        xform_maximum_invocations_per_extraction=PDF_MAX_FORMS_PER_PAGE,
    ):
        return _read_pdf_pages(data, name, deadline)


def _read_pdf_pages(data: bytes, name: str, deadline: float) -> str:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                unlocked = bool(reader.decrypt(""))  # many PDFs only restrict printing/copying
            except Exception:  # pypdf raises several types here
                unlocked = False
            if not unlocked:
                raise ExtractionError(
                    f"{name}: the PDF is encrypted with a password; save it without one and upload it again"
                )
        pages = len(reader.pages)
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # hostile input: pypdf raises many types
        raise ExtractionError(f"{name}: not a readable PDF ({_reason(exc)})") from exc
    if pages > MAX_PDF_PAGES:
        raise ExtractionError(f"{name}: the PDF has {pages:,} pages; at most {MAX_PDF_PAGES:,} can be read")
    texts: list[str] = []
    size = 0
    for number in range(pages):
        _check_deadline(name, deadline)
        try:
            page_text = reader.pages[number].extract_text() or ""
        except LimitReachedError as exc:
            raise ExtractionError(
                f"{name}: page {number + 1} is too large or complex to read ({_reason(exc)})"
            ) from exc
        except MemoryError:  # the child's address space is spent: no page after it fares better
            raise
        except Exception as exc:  # one broken page must not hide the rest
            if number == 0 and pages == 1:
                raise ExtractionError(f"{name}: not a readable PDF ({_reason(exc)})") from exc
            continue
        texts.append(page_text.strip())
        size += len(page_text)
        if size > MAX_TEXT_CHARS:
            break  # extract_text refuses it with the size
    return "\n\n".join(t for t in texts if t)


# --- docx ---------------------------------------------------------------------------------------


def _read_docx(data: bytes, name: str, charset: str | None, deadline: float) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if "word/document.xml" not in {m.filename for m in members}:
                raise ExtractionError(f"{name}: not a Word document (.docx): it has no word/document.xml")
            unpacked = sum(m.file_size for m in members)
            body = archive.getinfo("word/document.xml").file_size
            bombs = [
                m
                for m in members
                if m.file_size > 1024 * 1024 and m.file_size > MAX_DOCX_RATIO * max(1, m.compress_size)
            ]
    except zipfile.BadZipFile as exc:
        raise ExtractionError(f"{name}: not a readable Word document (.docx): {_reason(exc)}") from exc
    if bombs:  # before any parse: a word processor's XML packs 5-30:1, a generated table ~220:1
        bomb = bombs[0]
        raise ExtractionError(
            f"{name}: the part {bomb.filename[:100]} unpacks from {bomb.compress_size:,} to "
            f"{bomb.file_size:,} bytes, more than {MAX_DOCX_RATIO}:1; this is not a document a word "
            "processor writes"
        )
    if body > MAX_DOCX_XML:
        raise ExtractionError(
            f"{name}: the document's text part unpacks to {body:,} bytes; at most {MAX_DOCX_XML:,} are read"
        )
    if unpacked > MAX_DOCX_UNCOMPRESSED:
        raise ExtractionError(
            f"{name}: the document unpacks to {unpacked:,} bytes; at most {MAX_DOCX_UNCOMPRESSED:,} are read"
        )
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for block in document.iter_inner_content():
            _check_deadline(name, deadline)
            if isinstance(block, Paragraph):
                blocks.append(block.text)
            elif isinstance(block, Table):
                blocks.append(_docx_table(block))
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors...
        raise ExtractionError(f"{name}: not a readable Word document (.docx): {_reason(exc)}") from exc
    return "\n\n".join(b for b in blocks if b.strip())


def _docx_table(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or cells[-1] != text:  # merged cells repeat
                cells.append(text)
        rows.append(" | ".join(cells))
    return "\n".join(rows)


# --- csv ----------------------------------------------------------------------------------------


def _read_csv(data: bytes, name: str, charset: str | None, deadline: float) -> str:
    """Each row as `column: value` lines under the header row's names, rows apart by a blank line."""
    source = _decode(data, name, charset)
    sample = source[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    old_limit = csv.field_size_limit()
    rows: list[str] = []
    try:
        csv.field_size_limit(MAX_CSV_FIELD)
        reader = csv.reader(io.StringIO(source), dialect)
        header: list[str] | None = None
        for number, row in enumerate(reader):
            if number % 1000 == 0:
                _check_deadline(name, deadline)
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(row)]
                continue
            lines = []
            for i, cell in enumerate(row):
                if cell.strip():
                    column = header[i] if i < len(header) else f"column {i + 1}"
                    lines.append(f"{column}: {cell.strip()}")
            rows.append("\n".join(lines))
    except csv.Error as exc:
        raise ExtractionError(f"{name}: not a readable CSV file ({exc})") from exc
    finally:
        csv.field_size_limit(old_limit)
    if header is not None and not rows:  # a header only: keep its text
        return ", ".join(header)
    return "\n\n".join(rows)


# --- shared -------------------------------------------------------------------------------------


def _check_deadline(name: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ExtractionError(f"{name}: reading the file took longer than {MAX_SECONDS:.0f} s; split it")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


_READERS: dict[str, Callable[[bytes, str, str | None, float], str]] = {
    TEXT: _read_text,
    MARKDOWN: _read_text,
    HTML: _read_html,
    PDF: _read_pdf,
    DOCX: _read_docx,
    CSV: _read_csv,
}
