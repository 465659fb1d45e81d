"""Text from attachments and loose files.

Plain text and HTML take a fast local path; everything else goes to the Tika server through the
`tika` package in client-only mode. Timeouts, size caps and retries apply, and a Tika failure is
returned as data (a reason and a message), never raised, so one bad file cannot stop a job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import BinaryIO, Callable

from pipeline.config import TikaConfig
from pipeline.decoding import decode_bytes, html_to_text

TEXT_TYPES = {"application/pgp-signature", "application/x-patch", "application/x-sh",
              "application/json", "application/xml"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_EXTENSIONS = (".txt", ".csv", ".log", ".md", ".tsv")
HTML_EXTENSIONS = (".html", ".htm", ".xhtml")
UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class Extraction:
    text: str | None
    source: str            # plain, html, tika or none
    error_reason: str | None = None
    error_message: str | None = None
    detected_type: str | None = None   # what Tika recognised the bytes as
    cut_at: int | None = None          # Tika stopped writing text at this many characters


def _looks_like(mime_type: str | None, file_name: str | None, types: set[str],
                extensions: tuple[str, ...]) -> bool:
    if mime_type and mime_type.lower() in types:
        return True
    return bool(file_name) and file_name.lower().endswith(extensions)


def _is_plain_text(mime_type: str | None, file_name: str | None) -> bool:
    """text/* but HTML, and broken multiparts whose body is left as raw text."""
    lowered = (mime_type or "").lower()
    if lowered.startswith(("text/", "multipart/")):
        return True
    return _looks_like(mime_type, file_name, TEXT_TYPES, TEXT_EXTENSIONS)


def _classify_tika_failure(status: int, body: str) -> str:
    lowered = body.lower()
    if "encrypt" in lowered or "password" in lowered:
        return "encrypted"
    if status == 415:
        return "unsupported"
    if status in (422, 500):
        return "corrupt"
    return "extraction_failed"


class ExtractionCache:
    """Tika's answers by the SHA-256 of the bytes sent, least recently used first out.

    The same attachment recurs across a mailbox (a policy PDF, a logo, a forwarded report) and
    across every custodian's copy of a message; its text is a function of its bytes, so it is
    extracted once per worker process. Failures that depend on the server's state (timeouts,
    Tika down) are never kept.
    """

    KEPT_FAILURES = {"encrypted", "unsupported", "corrupt"}

    def __init__(self, max_entries: int = 4096, max_text_chars: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self.max_text_chars = max_text_chars
        self._entries: OrderedDict[str, Extraction] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str) -> Extraction | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: str, extraction: Extraction) -> None:
        if extraction.error_reason and extraction.error_reason not in self.KEPT_FAILURES:
            return
        if len(extraction.text or "") > self.max_text_chars:
            return
        self._entries[key] = extraction
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


@functools.lru_cache(maxsize=1)
def process_cache() -> ExtractionCache:
    """The one cache of this Python process, shared by the tasks a reused Spark worker runs."""
    return ExtractionCache()


class TextExtractor:
    """One per worker partition: holds the Tika settings and the process's extraction cache."""

    def __init__(self, tika: TikaConfig, cache: ExtractionCache | None = None) -> None:
        self.tika = tika
        self.cache = cache if cache is not None else process_cache()

    def extract(self, data: bytes, file_name: str | None, mime_type: str | None,
                charset: str | None = None) -> Extraction:
        if not data:
            return Extraction("", "none")
        warnings: list[str] = []
        if _looks_like(mime_type, file_name, HTML_TYPES, HTML_EXTENSIONS):
            return Extraction(html_to_text(decode_bytes(data, charset, warnings)), "html")
        if _is_plain_text(mime_type, file_name):
            return Extraction(decode_bytes(data, charset, warnings), "plain")
        return self._from_tika(lambda: data, len(data), hashlib.sha256(data).hexdigest(),
                               file_name)

    def extract_stream(self, open_stream: Callable[[], BinaryIO], size: int, sha256: str,
                       file_name: str | None, mime_type: str | None,
                       max_text_chars: int) -> Extraction:
        """Text of content too large to hold in memory, of which at most `max_text_chars` is
        kept: plain text and HTML from the stream's first bytes; anything else from Tika,
        which reads a stream opened afresh for each attempt and stops writing at that many
        characters (its writeLimit). Neither the content nor its text is ever held whole."""
        is_html = _looks_like(mime_type, file_name, HTML_TYPES, HTML_EXTENSIONS)
        if is_html or _is_plain_text(mime_type, file_name):
            # A character takes at most four bytes in UTF-8.
            with open_stream() as stream:
                head = stream.read(4 * max_text_chars)
                more = bool(stream.read(1))
            text = decode_bytes(head, None, [])
            return Extraction(html_to_text(text) if is_html else text,
                              "html" if is_html else "plain",
                              cut_at=max_text_chars if more else None)
        return self._from_tika(open_stream, size, sha256, file_name, max_text_chars)

    def _from_tika(self, body: Callable[[], bytes | BinaryIO], size: int, sha256: str,
                   file_name: str | None, write_limit: int | None = None) -> Extraction:
        """Tika's answer for content of `size` bytes, once per process for the same content."""
        if size > self.tika.max_bytes:
            return Extraction(None, "none", "too_large",
                              f"{size} bytes exceeds tika.max_bytes ({self.tika.max_bytes})")
        key = f"{sha256}:{int(self.tika.ocr)}:{write_limit}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        extraction = self._extract_with_tika(body, file_name, write_limit)
        self.cache.put(key, extraction)
        return extraction

    def _extract_with_tika(self, body: Callable[[], bytes | BinaryIO], file_name: str | None,
                           write_limit: int | None = None) -> Extraction:
        headers = {"Accept": "application/json"}
        if write_limit is not None:
            headers["writeLimit"] = str(write_limit)
        if file_name:
            # Tika uses the name as a detection hint; headers must be latin-1 safe.
            headers["Content-Disposition"] = (
                "attachment; filename=" + json.dumps(file_name.encode("ascii", "replace").decode()))
        if not self.tika.ocr:
            headers["X-Tika-OCRskipOcr"] = "true"
        last_error = ("extraction_failed", "no attempt made")
        for attempt in range(self.tika.retries + 1):
            try:
                status, answer = self._call_tika(body, headers)
            except Exception as exc:  # requests raises many types; all mean "no answer"
                name = type(exc).__name__
                reason = "timeout" if "timeout" in name.lower() else "tika_unavailable"
                last_error = (reason, f"{name}: {exc}")
                if attempt < self.tika.retries:
                    time.sleep(min(2 ** attempt, 4))
                continue
            if status == 200:
                return self._text_from_rmeta(answer, write_limit)
            last_error = (_classify_tika_failure(status, answer),
                          f"Tika answered HTTP {status}: {answer[:500]}")
            if status < 500 or last_error[0] == "encrypted":
                break  # a client error or an encrypted file will fail the same way again
        return Extraction(None, "none", *last_error)

    def _call_tika(self, body: Callable[[], bytes | BinaryIO],
                   headers: dict[str, str]) -> tuple[int, str]:
        from tika import tika as tika_module

        # Client-only mode: never let the package download or start a server of its own.
        tika_module.TikaClientOnly = True
        content = body()
        # A stream goes as chunks read one at a time: requests would otherwise seek to its end
        # for a Content-Length, and an archive entry's stream seeks by decompressing.
        sent = (iter(lambda: content.read(UPLOAD_CHUNK), b"") if hasattr(content, "read")
                else content)
        try:
            status, answer = tika_module.callServer(
                "put", self.tika.url.rstrip("/"), "/rmeta/text", sent, headers, False,
                requestOptions={"timeout": self.tika.timeout})
        finally:
            if hasattr(content, "close"):
                content.close()
        return status, answer if isinstance(answer, str) else answer.decode("utf-8", "replace")

    @staticmethod
    def _text_from_rmeta(body: str, write_limit: int | None = None) -> Extraction:
        try:
            documents = json.loads(body) if body else []
        except json.JSONDecodeError:
            return Extraction(None, "none", "extraction_failed", "Tika returned malformed JSON")
        if not documents:
            return Extraction("", "tika")
        container = documents[0]
        detected = (container.get("Content-Type") or "").split(";")[0].strip() or None
        texts = [doc.get("X-TIKA:content") or "" for doc in documents]
        text = "\n".join(t.strip() for t in texts if t.strip())
        cut_at = write_limit if any(doc.get("X-TIKA:EXCEPTION:write_limit_reached") == "true"
                                    for doc in documents) else None
        failure = container.get("X-TIKA:EXCEPTION:container_exception")
        if failure:
            return Extraction(text or None, "tika" if text else "none",
                              _classify_tika_failure(500, failure),
                              failure.splitlines()[0][:500], detected, cut_at)
        if detected == "application/octet-stream" and not text:
            return Extraction(None, "none", "unsupported",
                              "Tika does not recognise this format", detected)
        return Extraction(text, "tika", detected_type=detected, cut_at=cut_at)


def check_tika(tika: TikaConfig) -> str:
    """The Tika server's version, or a ServiceError before a job spends time failing per file."""
    import requests

    from pipeline.errors import ServiceError

    try:
        response = requests.get(tika.url.rstrip("/") + "/version", timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise ServiceError(f"Tika is not reachable at {tika.url} ({type(exc).__name__}). Start "
                           f"it with `trawl services up`, or set tika.url in your config.") from exc
    return response.text.strip()
