"""Tier 2: hashes, dedup, threads and near-duplicates on a synthetic corpus of real RFC 822
files, read by the real ingest steps and then analysed.

The generator writes every copy itself and records what it wrote (which message, which
custodian, which file and offset, which thread, which near-duplicate variant), so every
expectation below comes from that bookkeeping, never from the pipeline's output.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from itertools import combinations
from pathlib import Path

import pytest

from pipeline.demo import mbox_entry
from pipeline.manifest import parse_manifest
from pipeline.records import Item
from pipeline.schema import spark_schema
from pipeline.transforms.analyse import analyse
from pipeline.transforms.hashes import add_hashes, hash_when_read
from pipeline.transforms.ingest import (describe_sources, files_frame, plan_work_units,
                                        read_items)

from helpers import corpus_path

pytestmark = pytest.mark.spark

SEED = 20240401
PEOPLE = {"alice": ("Alice Archer", "alice@acme.example"),
          "bob": ("Bob Baker", "bob@acme.example"),
          "carol": ("Carol Chen", "carol@acme.example"),
          "dan": ("Dan Diaz", "dan@acme.example"),
          "erin": ("Erin Evans", "erin@partner.example")}
CUSTODIANS = ("alice", "bob", "carol", "dan")
START = datetime(2021, 3, 1, 9, 0, tzinfo=timezone.utc)


# --- The generator ----------------------------------------------------------------------------

@dataclass
class Message:
    key: str
    sender: str
    to: list[str]
    subject: str
    date: datetime
    body: str
    message_id: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    thread_index: bytes | None = None
    attachments: list[tuple[str, str]] = field(default_factory=list)

    def headers(self) -> list[str]:
        name, address = PEOPLE[self.sender]
        lines = [f"From: {name} <{address}>",
                 "To: " + ", ".join(f"{PEOPLE[p][0]} <{PEOPLE[p][1]}>" for p in self.to),
                 f"Subject: {self.subject}", f"Date: {format_datetime(self.date)}",
                 f"Message-ID: {self.message_id}", "MIME-Version: 1.0"]
        if self.in_reply_to:
            lines.append(f"In-Reply-To: {self.in_reply_to}")
        if self.references:
            lines.append("References: " + " ".join(self.references))
        if self.thread_index:
            lines.append("Thread-Index: " + base64.b64encode(self.thread_index).decode())
        return lines

    def render(self, transport: list[str]) -> bytes:
        head = "\n".join(transport + self.headers())
        if not self.attachments:
            return f"{head}\nContent-Type: text/plain; charset=utf-8\n\n{self.body}\n".encode()
        parts = [f"--XYZ\nContent-Type: text/plain; charset=utf-8\n\n{self.body}\n"]
        parts += [f"--XYZ\nContent-Type: text/plain; name={name}\nContent-Disposition: "
                  f"attachment; filename={name}\n\n{text}\n" for name, text in self.attachments]
        return (f"{head}\nContent-Type: multipart/mixed; boundary=XYZ\n\n"
                + "".join(parts) + "--XYZ--\n").encode()


@dataclass(frozen=True)
class Placement:
    """One copy of a message, as written: whose it is and where it sits."""
    key: str
    custodian: str
    path: str
    locator: str

    @property
    def offset(self) -> int:
        return int(self.locator.split()[1]) if self.locator.startswith("offset ") else -1


class Corpus:
    """Writes mbox and EML files under `root` and records every copy it writes."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.vocabulary = self._vocabulary(3000)
        self.messages: dict[str, Message] = {}
        self.placements: list[Placement] = []
        self.mboxes: dict[Path, list[tuple[str, bytes]]] = defaultdict(list)
        self.threads: list[dict[str, tuple[int, bool]]] = []  # key -> (position, inclusive)
        self.near_duplicate_pairs: set[frozenset[str]] = set()
        self.longest_variant: dict[str, str] = {}  # unit -> the pivot of its group
        self.clock = START

    def _vocabulary(self, size: int) -> list[str]:
        syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
        words: set[str] = set()
        while len(words) < size:
            words.add("".join(self.rng.choice(syllables) for _ in range(self.rng.randint(2, 4))))
        return sorted(words)

    def sentence(self, words: int) -> str:
        chosen = [self.rng.choice(self.vocabulary) for _ in range(words)]
        return " ".join(chosen).capitalize() + "."

    def text(self, words: int) -> str:
        sentences, left = [], words
        while left > 0:
            length = min(left, self.rng.randint(8, 14))
            sentences.append(self.sentence(length))
            left -= length
        return " ".join(sentences)

    def tick(self, minutes: int = 37) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def message(self, key: str, sender: str, to: list[str], subject: str | None = None,
                words: int = 60, **fields) -> Message:
        fields.setdefault("date", self.tick())
        fields.setdefault("body", self.text(words))
        message = Message(key=key, sender=sender, to=to,
                          subject=subject or f"{self.rng.choice(self.vocabulary)} {key}",
                          message_id=f"<{key}.{self.rng.randrange(10**9)}@acme.example>",
                          **fields)
        self.messages[key] = message
        return message

    def transport(self, holder: str) -> list[str]:
        """Headers a mail system adds on the way: different on every copy."""
        hops = [f"Received: from mx{self.rng.randint(1, 99)}.relay.example "
                f"(10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.1) by mail."
                f"acme.example with ESMTP id {self.rng.randrange(16**10):010x}; "
                f"{format_datetime(self.tick(1))}" for _ in range(self.rng.randint(1, 3))]
        return hops + [f"Delivered-To: {PEOPLE[holder][1]}",
                       f"X-Spam-Score: {self.rng.random():.3f}",
                       f"X-Copy-Serial: {self.rng.randrange(10**8)}"]

    def to_mbox(self, holder: str, key: str, name: str = "mail.mbox") -> None:
        path = self.root / holder / name
        self.mboxes[path].append((key, self.messages[key].render(self.transport(holder))))

    def to_eml(self, holder: str, key: str, name: str | None = None) -> None:
        path = self.root / holder / "saved" / (name or f"{key}.eml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.messages[key].render(self.transport(holder)))
        self.placements.append(Placement(key, PEOPLE[holder][0], str(path), "file"))

    def mbox_size(self, holder: str, name: str = "mail.mbox") -> int:
        return sum(len(mbox_entry(raw)) for _, raw in self.mboxes[self.root / holder / name])

    def write_mboxes(self) -> None:
        for path, entries in self.mboxes.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            offset = 0
            with open(path, "wb") as handle:
                for key, raw in entries:
                    self.placements.append(Placement(key, PEOPLE[path.parent.name][0],
                                                     str(path), f"offset {offset}"))
                    entry = mbox_entry(raw)
                    handle.write(entry)
                    offset += len(entry)

    # Truth derived from the bookkeeping.

    def units(self, key: str) -> list[str]:
        """A message and each of its attachments, as the generator names them."""
        return [key] + [f"{key}/{i}" for i in range(1, len(self.messages[key].attachments) + 1)]

    def holders(self, key: str) -> list[str]:
        return sorted({p.custodian for p in self.placements if p.key == key})

    def copies(self, key: str) -> list[Placement]:
        return [p for p in self.placements if p.key == key]


def build_corpus(root: Path) -> Corpus:
    corpus = Corpus(root, SEED)
    add_cross_custodian_copies(corpus)
    add_repeated_copies_for_bob(corpus)
    add_families(corpus)
    add_header_thread(corpus)
    add_subject_only_thread(corpus)
    add_conversation_index_thread(corpus)
    add_near_duplicates(corpus)
    add_unrelated_messages(corpus)
    corpus.write_mboxes()
    return corpus


def add_cross_custodian_copies(corpus: Corpus) -> None:
    corpus.message("memo", "alice", ["bob", "carol"], subject="Board memo")
    corpus.to_mbox("alice", "memo")
    corpus.to_eml("bob", "memo")
    corpus.to_mbox("carol", "memo")


def add_repeated_copies_for_bob(corpus: Corpus) -> None:
    """The same message twice in Bob's inbox, once saved as EML, and once at Dan's. The first
    inbox copy sits at an offset of 4 digits and the second at one of 5 digits starting with 1,
    so reading locators as text would pick the wrong (later) copy."""
    corpus.message("filler", "erin", ["bob"], words=420)
    corpus.to_mbox("bob", "filler", "inbox.mbox")
    corpus.message("repeat", "erin", ["bob", "dan"], subject="Invoice 4471")
    corpus.to_mbox("bob", "repeat", "inbox.mbox")
    number = 0
    while corpus.mbox_size("bob", "inbox.mbox") < 10_000:
        number += 1
        corpus.message(f"pad{number}", "erin", ["bob"], words=70)
        corpus.to_mbox("bob", f"pad{number}", "inbox.mbox")
    corpus.to_mbox("bob", "repeat", "inbox.mbox")
    corpus.to_eml("bob", "repeat")
    corpus.to_mbox("dan", "repeat")


def add_families(corpus: Corpus) -> None:
    """An email with two attachments held by Alice and Dan; another email (Carol's) attaching a
    file identical to the first one's: not a duplicate, since attachments follow their family,
    but a near duplicate (identical text)."""
    shared = ("contract.txt", corpus.text(50))
    corpus.message("family", "alice", ["dan"], subject="Contract draft",
                   attachments=[shared, ("terms.txt", corpus.text(45))])
    corpus.to_eml("alice", "family")
    corpus.to_mbox("dan", "family")
    corpus.message("resent", "carol", ["bob"], subject="Contract as sent", attachments=[shared])
    corpus.to_mbox("carol", "resent")
    corpus.near_duplicate_pairs.add(frozenset({"family/1", "resent/1"}))


def add_header_thread(corpus: Corpus) -> None:
    """R1 <- R2 <- R3 and R1 <- R4 by In-Reply-To/References. R1's attachment is carried on by R2
    but not by R3 or R4. R4 is dated after R3, yet a reply depth of 1 puts it before R3."""
    plan = ("plan.txt", corpus.text(40))
    r1 = corpus.message("r1", "alice", ["bob"], subject="Plan for the launch", attachments=[plan])
    r2 = corpus.message("r2", "bob", ["alice"], subject="Re: Plan for the launch",
                        in_reply_to=r1.message_id, references=[r1.message_id],
                        attachments=[plan])
    corpus.message("r3", "alice", ["bob"], subject="Re: Re: Plan for the launch",
                   references=[r1.message_id, r2.message_id])  # References only
    corpus.message("r4", "carol", ["alice", "bob"], subject="Re: Plan for the launch",
                   in_reply_to=r1.message_id, references=[r1.message_id])
    for holder, keys in (("alice", ["r1", "r2", "r3", "r4"]), ("bob", ["r1", "r2", "r3"]),
                         ("carol", ["r4", "r1"])):
        for key in keys:
            corpus.to_mbox(holder, key)
    corpus.threads.append({"r1": (0, False), "r2": (1, True), "r4": (2, True),
                           "r3": (3, True)})
    corpus.near_duplicate_pairs.add(frozenset({"r1/1", "r2/1"}))


def add_subject_only_thread(corpus: Corpus) -> None:
    """No In-Reply-To, References or Thread-Index: only the subject and the participants link
    these. Same subject with other people, and other subject with the same people, stay apart."""
    corpus.message("s1", "carol", ["dan"], subject="Quarterly budget")
    corpus.message("s2", "dan", ["carol"], subject="RE: Quarterly budget")
    corpus.message("s3", "carol", ["dan"], subject="AW: RE:  quarterly budget")
    corpus.message("s_other_people", "carol", ["erin"], subject="Quarterly budget")
    corpus.message("s_other_subject", "carol", ["dan"], subject="Quarterly budget forecast")
    for key in ("s1", "s2", "s3", "s_other_people", "s_other_subject"):
        corpus.to_mbox("carol", key)
    for key in ("s1", "s2", "s3"):
        corpus.to_mbox("dan", key)
    corpus.threads.append({"s1": (0, False), "s2": (1, False), "s3": (2, True)})


def add_conversation_index_thread(corpus: Corpus) -> None:
    """Outlook's Thread-Index alone links these: the subjects differ after normalisation."""
    root = bytes([1]) + corpus.rng.randbytes(21)
    reply = root + corpus.rng.randbytes(5)
    corpus.message("c1", "bob", ["dan"], subject="Site visit", thread_index=root)
    corpus.message("c2", "dan", ["bob"], subject="Re: Site visit moved", thread_index=reply)
    corpus.message("c3", "bob", ["dan"], subject="New date for the visit",
                   thread_index=reply + corpus.rng.randbytes(5))
    for key in ("c1", "c2", "c3"):
        corpus.to_mbox("bob", key)
    for key in ("c2", "c3"):
        corpus.to_mbox("dan", key)
    corpus.threads.append({"c1": (0, False), "c2": (1, False), "c3": (2, True)})


def add_near_duplicates(corpus: Corpus) -> None:
    """Seven messages each with a copy that has one sentence appended, and one with two such
    copies (a sentence each): the longest of each group is its pivot."""
    holders = list(CUSTODIANS)
    for number in range(8):
        base = corpus.message(f"base{number}", "erin", ["alice"], words=70)
        corpus.to_mbox(holders[number % 4], base.key)
        extra_lengths = (9, 11) if number == 7 else (10,)
        variants = [base.key]
        for letter, length in zip("ab", extra_lengths):
            key = f"variant{number}{letter}"
            corpus.message(key, "erin", ["alice"], body=f"{base.body} {corpus.sentence(length)}")
            corpus.to_mbox(holders[(number + 1) % 4], key)
            variants.append(key)
        for pair in combinations(variants, 2):
            corpus.near_duplicate_pairs.add(frozenset(pair))
        for key in variants:
            corpus.longest_variant[key] = variants[-1]


def add_unrelated_messages(corpus: Corpus) -> None:
    for number in range(12):
        key = f"lone{number}"
        corpus.message(key, CUSTODIANS[number % 4], ["erin"], words=40 + 5 * number)
        corpus.to_mbox(CUSTODIANS[(number + 2) % 4], key)
    corpus.message("short", "dan", ["erin"], body="Thanks, will do.")
    corpus.to_mbox("dan", "short")


# --- Running the pipeline ---------------------------------------------------------------------

def manifest_for(root: Path, holders: dict[str, list[str]]):
    return parse_manifest({"case": "analysis-test", "sources": [
        {"custodian": name, "paths": paths} for name, paths in holders.items()]}, root)


def read_case(spark, test_config, manifest, staging: Path):
    """The job's first half, as run.py does it: read, stage the raw items, read them back."""
    offline_tika = dataclasses.replace(test_config.tika, url="http://127.0.0.1:9", retries=0)
    units = plan_work_units(describe_sources(files_frame(spark, manifest)), 1 << 20).cache()
    read_items(units, offline_tika, test_config.ingest, units.count()) \
        .write.mode("overwrite").parquet(str(staging))
    units.unpersist()
    return spark.read.parquet(str(staging))


def analysed_rows(items, mode, analysis) -> list[dict]:
    return [row.asDict() for row in analyse(items, mode, analysis).collect()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("analysis-corpus"))


@pytest.fixture(scope="module")
def raw_items(spark, test_config, corpus, tmp_path_factory):
    holders = {PEOPLE[c][0]: [str(corpus.root / c)] for c in CUSTODIANS}
    return read_case(spark, test_config, manifest_for(corpus.root, holders),
                     tmp_path_factory.mktemp("staging") / "items-raw.parquet")


@pytest.fixture(scope="module")
def global_rows(raw_items, test_config):
    return analysed_rows(raw_items, "global", test_config.analysis)


@pytest.fixture(scope="module")
def custodial_rows(raw_items, test_config):
    return analysed_rows(raw_items, "custodial", test_config.analysis)


class Found:
    """The analysed rows, looked up by the generator's names for them."""

    def __init__(self, corpus: Corpus, rows: list[dict]) -> None:
        self.corpus = corpus
        self.rows = rows
        self.by_id = {row["id"]: row for row in rows}
        placements = {(p.path, p.locator): p for p in corpus.placements}
        self.unit_of: dict[str, str] = {}
        for row in rows:
            top, _, family_path = row["source_locator"].partition(" > ")
            key = placements[(row["source_path"], top)].key
            self.unit_of[row["id"]] = f"{key}/{family_path}" if family_path else key

    def copies(self, unit: str) -> list[dict]:
        return [row for row in self.rows if self.unit_of[row["id"]] == unit]

    def master(self, unit: str) -> dict:
        masters = [row for row in self.copies(unit) if not row["is_duplicate"]]
        assert len(masters) == 1, (unit, masters)
        return masters[0]

    def unit(self, row: dict) -> str:
        return self.unit_of[row["id"]]


@pytest.fixture(scope="module")
def found(corpus, global_rows) -> Found:
    return Found(corpus, global_rows)


def expected_master(corpus: Corpus, key: str) -> Placement:
    """The documented rule, applied to the generator's own record of the copies."""
    return min(corpus.copies(key), key=lambda p: (p.custodian, p.path, p.offset, p.locator))


# --- Dedup ------------------------------------------------------------------------------------

def test_every_copy_is_read_and_nothing_fails(corpus, found):
    assert [row for row in found.rows if row["type"] == "exception"] == []
    expected = sum(len(corpus.units(p.key)) for p in corpus.placements)
    assert len(found.rows) == expected


def test_unique_items_are_one_per_message_and_attachment(corpus, found):
    unique = sum(len(corpus.units(key)) for key in {p.key for p in corpus.placements})
    assert sum(not row["is_duplicate"] for row in found.rows) == unique


def test_copies_and_masters_per_custodian(corpus, found):
    held, mastered = defaultdict(int), defaultdict(int)
    for placement in corpus.placements:
        held[placement.custodian] += len(corpus.units(placement.key))
    for key in {p.key for p in corpus.placements}:
        mastered[expected_master(corpus, key).custodian] += len(corpus.units(key))
    found_held, found_mastered = defaultdict(int), defaultdict(int)
    for row in found.rows:
        found_held[row["custodian"]] += 1
        found_mastered[row["custodian"]] += not row["is_duplicate"]
    assert found_held == held
    assert found_mastered == mastered


def recomputed_hashes(items) -> dict[str, tuple]:
    """(email_hash, message_id_hash) by id, every one of them computed by the analysis."""
    from pyspark.sql import functions as F

    cleared = (items.withColumn("email_hash", F.lit(None).cast("string"))
               .withColumn("message_id_hash", F.lit(None).cast("string")))
    return {row["id"]: (row["email_hash"], row["message_id_hash"])
            for row in add_hashes(cleared).collect()}


def test_hashes_taken_when_read_equal_the_ones_the_analysis_takes(raw_items):
    as_read = {row["id"]: (row["email_hash"], row["message_id_hash"])
               for row in raw_items.collect()}
    set_when_read = {key: value for key, value in as_read.items() if value[0] is not None}
    assert len(set_when_read) > 10  # emails without attachments are hashed by their reader
    assert any(value[0] is None for value in as_read.values())  # ones with attachments are not
    recomputed = recomputed_hashes(raw_items)
    assert {key: recomputed[key] for key in set_when_read} == set_when_read
    assert {key: recomputed[key][1] for key in as_read} == {
        key: value[1] for key, value in as_read.items()}


def test_hashes_taken_when_read_see_text_as_spark_stores_it(spark):
    """Lone surrogates (left by undecodable bytes) become U+FFFD in the JVM: a reader hashing
    the Python string as it was would disagree with the analysis and split a message's copies."""
    sent = datetime(2021, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    items = [hash_when_read(Item(id=f"e{n}", case="c", type="email", subject="caf\udce9 menu",
                                 from_address="a@example.org", recipient_addresses=[
                                     "b@example.org", "\ud800@example.org"],
                                 message_id=f"<{n}\udcff@example.org>", date=sent,
                                 body=f"line {n}\udc80\r\n  wrapped\ud83d\ude00"))
             for n in range(3)]
    assert all(item.email_hash and item.message_id_hash for item in items)
    frame = spark.createDataFrame(spark.sparkContext.parallelize(
        [item.to_row() for item in items], 1), spark_schema(), verifySchema=False)
    assert recomputed_hashes(frame) == {item.id: (item.email_hash, item.message_id_hash)
                                        for item in items}


def test_copies_differing_only_in_transport_headers_are_one_item(corpus, found):
    copies = found.copies("memo")
    assert len(copies) == 3 and len({row["sha256"] for row in copies}) == 3
    assert len({row["email_hash"] for row in copies}) == 1
    master = found.master("memo")
    assert master["custodian"] == "Alice Archer" == expected_master(corpus, "memo").custodian
    for row in copies:
        assert row["custodians"] == ["Alice Archer", "Bob Baker", "Carol Chen"]
        assert row["master_id"] == master["id"]
        assert row["duplicate_count"] == 3
        assert row["is_duplicate"] == (row is not master)
    assert master["duplicate_paths"] == sorted(f"{p.path}#{p.locator}"
                                               for p in corpus.copies("memo"))


def test_master_is_the_earliest_copy_by_byte_offset_not_by_locator_text(corpus, found):
    inbox = [p for p in corpus.copies("repeat") if p.path.endswith("inbox.mbox")]
    first, second = sorted(inbox, key=lambda p: p.offset)
    assert 1000 < first.offset < 10_000 <= second.offset < 20_000  # text order would differ
    master = found.master("repeat")
    assert (master["source_path"], master["source_locator"]) == (first.path, first.locator)
    assert expected_master(corpus, "repeat") == first
    assert master["custodians"] == ["Bob Baker", "Dan Diaz"]
    assert master["duplicate_count"] == len(corpus.copies("repeat")) == 4


def test_attachments_of_a_duplicate_family_are_duplicates_of_the_masters_children(found):
    master = found.master("family")
    assert master["custodian"] == "Alice Archer"
    for index in (1, 2):
        unit = f"family/{index}"
        master_child = found.master(unit)
        assert master_child["parent_id"] == master["id"]
        for row in found.copies(unit):
            assert row["master_id"] == master_child["id"]
            assert row["custodians"] == ["Alice Archer", "Dan Diaz"]
            assert row["duplicate_count"] == 2
    resent = found.copies("resent/1")
    assert len(resent) == 1 and not resent[0]["is_duplicate"]
    assert resent[0]["sha256"] == found.master("family/1")["sha256"]


def test_no_family_is_ever_split(found):
    for row in found.rows:
        top = found.by_id[row["family_id"]]
        assert row["is_duplicate"] == top["is_duplicate"], found.unit(row)
        if row["is_duplicate"]:
            assert found.by_id[row["master_id"]]["family_id"] == top["master_id"]


def test_message_identification_hash(corpus, found):
    message_id = corpus.messages["memo"].message_id
    expected = hashlib.md5(message_id.encode()).hexdigest()
    assert {row["message_id_hash"] for row in found.copies("memo")} == {expected}
    assert all(row["message_id_hash"] is None for row in found.copies("family/1"))


def test_custodial_mode_deduplicates_within_each_custodian_only(corpus, custodial_rows):
    found = Found(corpus, custodial_rows)
    held_units = {(p.custodian, unit) for p in corpus.placements for unit in corpus.units(p.key)}
    assert sum(not row["is_duplicate"] for row in custodial_rows) == len(held_units)
    for row in custodial_rows:
        assert row["custodians"] == [row["custodian"]]
        assert found.by_id[row["master_id"]]["custodian"] == row["custodian"]
    memo = found.copies("memo")
    assert all(not row["is_duplicate"] and row["duplicate_count"] == 1 for row in memo)
    bob_repeats = [row for row in found.copies("repeat") if row["custodian"] == "Bob Baker"]
    assert sorted(row["is_duplicate"] for row in bob_repeats) == [False, True, True]
    assert {row["duplicate_count"] for row in bob_repeats} == {3}


# --- Threads ----------------------------------------------------------------------------------

def test_threads_are_exactly_the_generated_conversations(corpus, found):
    emails = [row for row in found.rows if row["type"] == "email" and row["level"] == 0]
    thread_of_key = defaultdict(set)
    for row in emails:
        thread_of_key[found.unit(row)].add(row["thread_id"])
    assert all(len(ids) == 1 and None not in ids for ids in thread_of_key.values())
    members = defaultdict(set)
    for key, ids in thread_of_key.items():
        members[next(iter(ids))].add(key)
    expected = [set(thread) for thread in corpus.threads]
    threaded = set().union(*expected)
    expected += [{key} for key in thread_of_key if key not in threaded]
    assert sorted(map(sorted, members.values())) == sorted(map(sorted, expected))


def test_thread_positions_and_inclusive_emails(corpus, found):
    threaded = {key for thread in corpus.threads for key in thread}
    for thread in corpus.threads:
        for key, (position, inclusive) in thread.items():
            for row in found.copies(key):
                assert (row["thread_position"], row["is_inclusive"]) == (position, inclusive), key
    for key in {p.key for p in corpus.placements} - threaded:
        for row in found.copies(key):
            assert (row["thread_position"], row["is_inclusive"]) == (0, True), key


def test_conversation_index_comes_from_the_thread_index_header(corpus, found):
    for key in ("c1", "c2", "c3"):
        expected = corpus.messages[key].thread_index.hex()
        assert {row["conversation_index"] for row in found.copies(key)} == {expected}


# --- Near-duplicates --------------------------------------------------------------------------

def test_near_duplicates_are_grouped_and_unrelated_items_are_not(corpus, found, test_config):
    masters = [row for row in found.rows if not row["is_duplicate"]]
    grouped = defaultdict(set)
    for row in masters:
        if row["near_duplicate_group"]:
            grouped[row["near_duplicate_group"]].add(found.unit(row))
    predicted = {frozenset(pair) for units in grouped.values()
                 for pair in combinations(sorted(units), 2)}
    truth = corpus.near_duplicate_pairs
    recall = len(predicted & truth) / len(truth)
    precision = len(predicted & truth) / len(predicted)
    print(f"near-duplicates: {len(truth)} true pairs, recall {recall:.3f}, "
          f"precision {precision:.3f}")
    assert recall >= 0.9
    assert predicted <= truth  # nothing unrelated is merged
    paired = set().union(*truth)
    assert all(row["near_duplicate_group"] is None for row in masters
               if found.unit(row) not in paired)


def test_near_duplicate_pivot_is_the_longest_text_and_copies_follow(corpus, found, test_config):
    threshold = test_config.analysis.near_duplicate_threshold
    for unit, pivot_unit in corpus.longest_variant.items():
        row, pivot = found.master(unit), found.master(pivot_unit)
        assert row["near_duplicate_group"] == pivot["id"]
        assert pivot["near_duplicate_score"] == 1.0
        assert threshold <= row["near_duplicate_score"] <= 1.0
    for row in found.rows:
        master = found.by_id[row["master_id"]]
        assert (row["near_duplicate_group"], row["near_duplicate_score"]) == \
               (master["near_duplicate_group"], master["near_duplicate_score"])
    identical = found.master("family/1")
    assert identical["near_duplicate_score"] == 1.0
    assert found.master("resent/1")["near_duplicate_group"] == identical["near_duplicate_group"]


# --- The same message as Outlook MSG and as EML -----------------------------------------------

QWERTY_EML = b"""Message-ID: <CEB3518C2FA4D743BF752C106451B19E14944E@sydexmail1.freehills.com.au>
Subject: qwerty
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Charles Lowe
Data Analyst
Freehills

Direct 61 2 9322 4181
Switch 61 2 9225 5000
Facsimile 61 2 9322 4000
http://www.freehills.com
"""


@pytest.mark.corpus
def test_the_same_message_as_msg_and_as_eml_is_one_item(spark, test_config, tmp_path):
    """ruby-msg's qwerty_1-orig.msg is an unsent draft (no sender, no date, a recipient with no
    address), so an EML with the same Message-ID, subject and body is that message. qwerty_3
    has the same Message-ID but Cc and Bcc recipients: a different message in the same node."""
    msg = corpus_path("ruby-msg", "qwerty_1-orig.msg")
    other_recipients = corpus_path("ruby-msg", "qwerty_3.msg")
    eml = tmp_path / "frank" / "qwerty.eml"
    eml.parent.mkdir()
    eml.write_bytes(QWERTY_EML)
    manifest = manifest_for(tmp_path, {"Erin Evans": [str(msg), str(other_recipients)],
                                       "Frank Fox": [str(eml)]})
    items = read_case(spark, test_config, manifest, tmp_path / "items-raw.parquet")
    rows = {Path(row["source_path"]).name: row
            for row in analysed_rows(items, "global", test_config.analysis) if row["level"] == 0}
    original, as_eml, with_cc = rows["qwerty_1-orig.msg"], rows["qwerty.eml"], rows["qwerty_3.msg"]
    assert original["email_hash"] == as_eml["email_hash"] != with_cc["email_hash"]
    assert not original["is_duplicate"] and as_eml["is_duplicate"]
    assert as_eml["master_id"] == original["id"]
    assert original["custodians"] == ["Erin Evans", "Frank Fox"]
    assert not with_cc["is_duplicate"] and with_cc["custodians"] == ["Erin Evans"]
    # Worked by hand: printf '%s' '<CEB3518C…@sydexmail1.freehills.com.au>' | md5sum
    assert {row["message_id_hash"] for row in rows.values()} == {
        "b311f8f3a75635458cc29547b90cc737"}
    assert original["thread_id"] == with_cc["thread_id"] == as_eml["thread_id"]
    assert with_cc["near_duplicate_group"] == original["near_duplicate_group"] is not None
