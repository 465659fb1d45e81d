"""Tier 1: cutting `_bulk` bodies out of Arrow batches, and what happens to documents ES answers
with 429 or refuses."""

from __future__ import annotations

import json

import pyarrow as pa

from pipeline.config import BulkConfig
from pipeline.index.bulk import Chunk, chunks, send_chunk


def lines_of(*ids: str, padding: int = 0) -> bytes:
    return "".join(json.dumps({"index": {"_id": doc_id}}) + "\n"
                   + json.dumps({"id": doc_id, "body": "x" * padding}) + "\n"
                   for doc_id in ids).encode()


def batch(*ids: str, padding: int = 0) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([lines_of(doc_id, padding=padding).decode() for doc_id in ids])], ["line"])


def ids_in(chunk: Chunk) -> list[str]:
    assert chunk.body.endswith(b"\n") and len(chunk.ends) * 2 == chunk.body.count(b"\n")
    return [json.loads(chunk.lines(k).split(b"\n")[0])["index"]["_id"]
            for k in range(len(chunk.ends))]


def test_bodies_hold_every_line_in_order_across_batches_up_to_the_document_limit():
    batches = [batch("a", "b", "c"), batch(), batch("d", "e"), batch("f")]
    cut = list(chunks(batches, max_documents=4, max_bytes=1 << 20))
    assert [ids_in(chunk) for chunk in cut] == [["a", "b", "c", "d"], ["e", "f"]]
    assert b"".join(chunk.body for chunk in cut) == lines_of(*"abcdef")


def test_bodies_stay_under_the_byte_limit_and_a_larger_document_goes_alone():
    one = len(lines_of("a", padding=100))
    batches = [batch("a", "b", "c", "d", padding=100), batch("huge", padding=5 * one),
               batch("e", padding=100)]
    cut = list(chunks(batches, max_documents=100, max_bytes=2 * one + 10))
    assert [ids_in(chunk) for chunk in cut] == [["a", "b"], ["c", "d"], ["huge"], ["e"]]
    assert all(len(chunk.body) <= 2 * one + 10 for chunk in cut if ids_in(chunk) != ["huge"])


def test_a_sliced_arrow_batch_is_read_from_its_own_offset():
    sliced = batch("a", "b", "c", "d").slice(1, 2)
    assert [ids_in(chunk) for chunk in chunks([sliced], 10, 1 << 20)] == [["b", "c"]]


class AnswersInTurn:
    """Stands in for the client in a unit test: answers each `bulk` call with the next response,
    and keeps the bodies it was sent."""

    def __init__(self, *responses: dict) -> None:
        self.responses = list(responses)
        self.bodies: list[bytes] = []

    def bulk(self, index: str, operations: bytes, filter_path: str) -> dict:
        self.bodies.append(operations)
        return self.responses.pop(0)


def item(status: int, error: str | None = None) -> dict:
    return {"index": {"status": status, **({"error": {"type": error}} if error else {})}}


def test_documents_answered_with_429_are_sent_again_alone_and_refusals_become_dead_letters():
    client = AnswersInTurn(
        {"errors": True, "items": [item(201), item(429), item(400, "mapper_parsing"), item(429)]},
        {"errors": True, "items": [item(201), item(429)]},
        {"errors": False, "items": [item(201)]})
    chunk = next(chunks([batch("a", "b", "c", "d")], 10, 1 << 20))
    bulk = BulkConfig(chunk_size=10, max_chunk_bytes=1 << 20, max_retries=3, initial_backoff=0)

    indexed, dead = send_chunk(client, "case", chunk, bulk)

    assert indexed == 3
    assert [(d["index"]["_id"], d["index"]["status"], d["document"]["id"]) for d in dead] == [
        ("c", 400, "c")]
    assert client.bodies == [lines_of(*"abcd"), lines_of("b", "d"), lines_of("d")]


def test_a_document_still_answered_with_429_after_the_last_retry_is_a_dead_letter():
    client = AnswersInTurn({"errors": True, "items": [item(429)]},
                           {"errors": True, "items": [item(429)]})
    chunk = next(chunks([batch("a")], 10, 1 << 20))
    bulk = BulkConfig(chunk_size=10, max_chunk_bytes=1 << 20, max_retries=1, initial_backoff=0)
    assert send_chunk(client, "case", chunk, bulk)[1][0]["index"]["status"] == 429


def test_a_whole_request_answered_with_429_is_sent_again():
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import ApiError

    meta = ApiResponseMeta(status=429, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))

    class BusyOnce(AnswersInTurn):
        def bulk(self, index: str, operations: bytes, filter_path: str) -> dict:
            if not self.bodies:
                self.bodies.append(operations)
                raise ApiError("es_rejected_execution_exception", meta, {})
            return super().bulk(index, operations, filter_path)

    client = BusyOnce({"errors": False, "items": [item(201), item(201)]})
    chunk = next(chunks([batch("a", "b")], 10, 1 << 20))
    bulk = BulkConfig(chunk_size=10, max_chunk_bytes=1 << 20, max_retries=2, initial_backoff=0)
    assert send_chunk(client, "case", chunk, bulk) == (2, [])
    assert client.bodies == [lines_of("a", "b")] * 2
