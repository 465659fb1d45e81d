"""Tier 3: attachment text from the real Tika server, searchable with its family."""

import email.message

import pytest

from pipeline.manifest import parse_manifest
from pipeline.search import SearchRequest, search

from helpers import corpus_path, ingest_case

pytestmark = pytest.mark.integration

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def attachment_case(spark, test_config, es_client, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tika-evidence")
    message = email.message.EmailMessage()
    message["From"] = "Carol <carol@example.org>"
    message["To"] = "jane@example.org"
    message["Subject"] = "Two documents"
    message["Message-ID"] = "<two-documents@example.org>"
    message["Date"] = "Wed, 05 Jun 2019 09:30:00 +0200"
    message.set_content("Please see the two documents attached.")
    message.add_attachment(corpus_path("aleph", "hello world word.docx").read_bytes(),
                           maintype="application", subtype=DOCX.split("/")[1],
                           filename="hello world word.docx")
    message.add_attachment(corpus_path("aleph", "password-hunter2.pdf").read_bytes(),
                           maintype="application", subtype="pdf", filename="locked.pdf")
    (folder / "two-documents.eml").write_bytes(message.as_bytes())
    manifest = parse_manifest({"case": "test-tika", "sources": [
        {"custodian": "Carol Jones", "paths": [str(folder)]}]}, folder)
    return ingest_case(spark, test_config, manifest)


def test_word_document_text_is_searchable_and_linked_to_its_email(attachment_case, es_client,
                                                                   test_config):
    es = test_config.elasticsearch
    result = search(es_client, es, SearchRequest(case="test-tika", query="hello AND world",
                                                 types=("attachment",)))
    assert result.total == 1
    attachment = es_client.get(index=attachment_case.alias, id=result.hits[0].id)["_source"]
    parent = search(es_client, es, SearchRequest(
        case="test-tika", query='message_id:"<two-documents@example.org>"')).hits[0]
    assert attachment["file_name"] == "hello world word.docx"
    assert attachment["text_source"] == "tika"
    assert attachment["parent_id"] == parent.id == attachment["family_id"]
    assert attachment["level"] == 1 and attachment["family_path"] == "1"
    assert result.hits[0].custodians == ["Carol Jones"]
    assert result.hits[0].family == {"id": parent.id, "parent_id": parent.id, "level": 1,
                                     "path": "1"}


def test_encrypted_pdf_is_kept_and_recorded_as_an_exception(attachment_case, es_client,
                                                            test_config):
    es = test_config.elasticsearch
    exceptions = search(es_client, es, SearchRequest(case="test-tika", query="*",
                                                     types=("exception",)))
    assert exceptions.total == 1
    record = es_client.get(index=attachment_case.alias, id=exceptions.hits[0].id)["_source"]
    assert record["exception_reason"] == "encrypted"
    locked = es_client.get(index=attachment_case.alias, id=record["exception_item_id"])["_source"]
    assert locked["file_name"] == "locked.pdf" and locked["type"] == "attachment"
    assert attachment_case.exceptions == 1
