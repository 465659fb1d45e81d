"""Tier 3: content over `ingest.max_attachment_bytes` is never held in memory, and is still
hashed, read by the real Tika server from a stream, and searchable with its family."""

import dataclasses
import hashlib
import io
import random
import zipfile

import pytest

from pipeline.extract import TextExtractor
from pipeline.mail import ParseContext
from pipeline.manifest import parse_manifest
from pipeline.records import WorkUnit
from pipeline.search import SearchRequest, search
from pipeline.sources import detect_reader

from helpers import corpus_path, ingest_case

pytestmark = pytest.mark.integration

# Far below the corpus files' sizes, so each of them takes the streamed path.
SMALL_CAP = 1000


def read_loose(path, config, max_text_chars=1_000_000):
    ingest = dataclasses.replace(config.ingest, max_attachment_bytes=SMALL_CAP,
                                 max_text_chars=max_text_chars)
    reader = detect_reader(str(path))
    unit = WorkUnit("test-streamed", "Jane Smith", "jane-smith", str(path), reader.name)
    return list(reader.read(unit, ParseContext(TextExtractor(config.tika), ingest)))


def test_document_over_the_cap_is_read_by_tika_from_a_stream(es_client, test_config):
    path = corpus_path("aleph", "hello world word.docx")
    assert path.stat().st_size > SMALL_CAP
    items = read_loose(path, test_config)
    assert [(i.type, i.text_source) for i in items] == [("document", "tika")]
    assert "hello world" in items[0].body.lower()
    assert items[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert items[0].size == path.stat().st_size


def test_tika_writes_no_more_than_max_text_chars_of_a_streamed_document(es_client,
                                                                       test_config):
    # Tika counts the blank lines it writes before the document's one line, "Hello world, Word!".
    items = read_loose(corpus_path("aleph", "hello world word.docx"), test_config,
                       max_text_chars=35)
    body = items[0].body
    assert body and "Hello world, Word!".startswith(body) and body != "Hello world, Word!"
    assert items[0].decode_warnings == ["text truncated at 35 characters; the rest was not read"]


def test_document_inside_an_archive_over_the_cap_is_searchable_with_its_family(
        spark, test_config, es_client, tmp_path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        writer.writestr("reports/hello world word.docx",
                        corpus_path("aleph", "hello world word.docx").read_bytes())
        writer.writestr("noise.bin", random.Random(3).randbytes(4000))
    (folder / "export.zip").write_bytes(archive.getvalue())
    config = test_config.replace(ingest=dataclasses.replace(test_config.ingest,
                                                            max_attachment_bytes=SMALL_CAP))
    manifest = parse_manifest({"case": "test-streamed", "sources": [
        {"custodian": "Jane Smith", "paths": [str(folder)]}]}, folder)
    summary = ingest_case(spark, config, manifest)
    es = config.elasticsearch
    # The archive's own item matches too, by its entry names; the document is the attachment.
    result = search(es_client, es, SearchRequest(case="test-streamed", query="hello AND world",
                                                 types=("attachment",)))
    assert result.total == 1
    hit = es_client.get(index=summary.alias, id=result.hits[0].id)["_source"]
    top = search(es_client, es, SearchRequest(case="test-streamed", query='file_name:"export.zip"'))
    assert hit["file_name"] == "hello world word.docx" and hit["text_source"] == "tika"
    assert hit["parent_id"] == top.hits[0].id == hit["family_id"]
    assert hit["folder_path"] == "reports/hello world word.docx"


def test_messages_over_the_cap_are_read_and_deduplicated_like_any_message(
        spark, test_config, es_client, tmp_path):
    header = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
              b"Subject: Quarterly video\r\nDate: Mon, 01 Jan 2001 10:00:00 +0000\r\n"
              b"Message-ID: <video@example.org>\r\n\r\n")
    same, other = header + b"frame " * 400, header + b"other " * 400
    # The same message as another server delivered it: another Received line, other bytes.
    relayed = b"Received: from relay.example.net by mx.example.org\r\n" + same
    sources = []
    for custodian, content in (("Jane Smith", same), ("Ravi Patel", relayed),
                               ("Ola Berg", other)):
        folder = tmp_path / custodian.replace(" ", "-").lower()
        folder.mkdir()
        (folder / "video.eml").write_bytes(content)
        sources.append({"custodian": custodian, "paths": [str(folder)]})
    config = test_config.replace(ingest=dataclasses.replace(test_config.ingest,
                                                            max_attachment_bytes=SMALL_CAP))
    manifest = parse_manifest({"case": "test-streamed-dedup", "sources": sources}, tmp_path)
    summary = ingest_case(spark, config, manifest)
    assert summary.items_by_type == {"email": 3}
    assert (summary.unique_items, summary.duplicate_items) == (2, 1)
    emails = es_client.search(index=summary.alias, query={"term": {"type": "email"}},
                              size=10)["hits"]["hits"]
    found = {hit["_source"]["sha256"]: hit["_source"] for hit in emails}
    assert set(found) == {hashlib.sha256(content).hexdigest()
                          for content in (same, relayed, other)}
    for content in (same, relayed, other):
        email = found[hashlib.sha256(content).hexdigest()]
        assert email["body"] == (content[len(content) - 2400:]).decode().strip()
        assert any(warning.startswith("read as a stream") for warning in
                   email["decode_warnings"])
    # The normalised email hash leaves out transport headers: the relayed copy is a duplicate.
    copies = sorted([found[hashlib.sha256(same).hexdigest()]["is_duplicate"],
                     found[hashlib.sha256(relayed).hexdigest()]["is_duplicate"]])
    assert copies == [False, True]
    master = next(email for email in found.values()
                  if email["body"].startswith("frame") and not email["is_duplicate"])
    assert sorted(master["custodians"]) == ["Jane Smith", "Ravi Patel"]
    assert found[hashlib.sha256(other).hexdigest()]["custodians"] == ["Ola Berg"]
