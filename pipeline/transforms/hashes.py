"""Per-item hashes for deduplication: the normalised email hash and the EDRM Message
Identification Hash (MIH). `sha256` of the native bytes is set by the readers already.

The normalisation is plain Python (unit-tested without Spark), run once: by the reader for an
email without attachments (`hash_when_read`), and in Spark as a UDF for one with attachments,
whose children's hashes only the analysis can join. docs/deduplication.md and the schema's
`email_hash` description give the same definition as `canonical_email`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any, Iterable

EMAIL_TYPE = "email"
EXCEPTION_TYPE = "exception"
# The JVM holds no lone surrogates: each becomes U+FFFD when a row crosses from Python.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def normalise_whitespace(text: str | None) -> str:
    """NFC, every run of whitespace (line breaks included) as one space, no ends: CRLF against
    LF, re-wrapped lines and trailing blanks must not make two copies differ."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def normalise_address(address: str | None) -> str:
    return (address or "").strip().lower()


def utc_second(sent: datetime | None) -> str:
    """The sent date in UTC to the second, 'YYYY-MM-DDTHH:MM:SSZ'; '' when the email has none.
    A naive datetime is taken as UTC, as Item.date is."""
    if sent is None:
        return ""
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=timezone.utc)
    return sent.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_email(sender: str | None, recipients: Iterable[str | None], subject: str | None,
                    sent: datetime | None, body: str | None,
                    attachments: Iterable[tuple[str | None, str | None]]) -> str:
    """The text the email hash is taken over: compact JSON with sorted keys.

    Only fields a copy keeps wherever it lands take part; transport headers (Received,
    Delivered-To, X-*), the Message-ID and the file it sits in never do.
    """
    fields = {
        "from": normalise_address(sender),
        "recipients": sorted({normalise_address(r) for r in recipients if normalise_address(r)}),
        "subject": normalise_whitespace(subject),
        "sent": utc_second(sent),
        "body": normalise_whitespace(body),
        "attachments": sorted([normalise_whitespace(name), (sha256 or "").lower()]
                              for name, sha256 in attachments),
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def email_hash(sender: str | None, recipients: Iterable[str | None], subject: str | None,
               sent: datetime | None, body: str | None,
               attachments: Iterable[tuple[str | None, str | None]]) -> str:
    canonical = canonical_email(sender, recipients, subject, sent, body, attachments)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def bytes_email_hash(sha256: str) -> str:
    """The email hash of a message whose headers alone were read (`mail.email_header_item`):
    over its bytes' SHA-256, in a namespace of its own, so it matches only byte-identical copies
    and never a normalised hash."""
    return hashlib.sha256(f"bytes:{sha256}".encode("ascii")).hexdigest()


def message_id_hash(message_id: str | None) -> str | None:
    """EDRM MIH: MD5 of the Message-ID value as written, angle brackets included."""
    if message_id is None or not message_id.strip():
        return None
    return hashlib.md5(message_id.strip().encode("utf-8", "surrogatepass")).hexdigest()


def as_stored(text: str | None) -> str | None:
    """`text` as Spark will hold it once the row has crossed to the JVM."""
    return LONE_SURROGATE.sub("\ufffd", text) if text else text


def hash_when_read(item: Any) -> Any:
    """Set the hashes a reader already holds everything for, so their text need not cross to a
    Python UDF again in the analysis: the MIH of any item with a Message-ID, and the email hash
    of an email without attachments (one with attachments needs its children's hashes, which
    the analysis joins), unless the reader set one (`bytes_email_hash`). Strings are hashed as
    Spark stores them, and a date without a zone is left to the analysis, so both ways give the
    same value; the Spark tests compare them."""
    item.message_id_hash = message_id_hash(as_stored(item.message_id))
    dated = item.date is None or item.date.tzinfo is not None
    if (item.type == EMAIL_TYPE and item.email_hash is None and item.attachment_count == 0
            and dated):
        item.email_hash = email_hash(as_stored(item.from_address),
                                     [as_stored(r) for r in item.recipient_addresses or []],
                                     as_stored(item.subject), item.date, as_stored(item.body), [])
    return item


# --- Spark ------------------------------------------------------------------------------------

def _email_hash_from_row(sender: str | None, recipients: list[str] | None, subject: str | None,
                         sent_epoch: int | None, body: str | None,
                         attachments: list[Any] | None) -> str:
    # Epoch seconds cross into Python rather than a timestamp, because Python workers turn
    # timestamps into naive local times whatever the session time zone is.
    sent = None if sent_epoch is None else datetime.fromtimestamp(sent_epoch, timezone.utc)
    pairs = [(entry["name"], entry["sha256"]) for entry in attachments or []]
    return email_hash(sender, recipients or [], subject, sent, body, pairs)


def _udf(function: Any) -> Any:
    from pyspark.sql import functions as F

    # A lambda, because Spark would otherwise try to read a UDF flavour from the type hints;
    # plain pickled UDFs: the Arrow flavour converts through pandas and was not measured here.
    return F.udf(lambda *columns: function(*columns), "string", useArrow=False)


def attachment_digests(items: Any) -> Any:
    """(id, attachments): each email's direct attachments as (name, sha256) structs.

    Names come from the email's own attachment_names and hashes from the child item at the same
    position, so an attachment whose item could not be read still counts, with an empty hash.
    """
    from pyspark.sql import functions as F

    named = (items.where((F.col("type") == EMAIL_TYPE) & (F.col("attachment_count") > 0))
             .select(F.col("id").alias("email_id"),
                     F.posexplode("attachment_names").alias("position", "name")))
    children = (items.where(F.col("parent_id").isNotNull() & (F.col("type") != EXCEPTION_TYPE))
                .select(F.col("parent_id").alias("email_id"),
                        (F.element_at(F.split("family_path", "/"), -1).try_cast("int") - 1)
                        .alias("position"),
                        F.col("sha256")))
    return (named.join(children, ["email_id", "position"], "left")
            .groupBy("email_id")
            .agg(F.collect_list(F.struct(F.col("name"), F.coalesce("sha256", F.lit(""))
                                         .alias("sha256"))).alias("attachments")))


def add_hashes(items: Any) -> Any:
    """items -> items with email_hash (emails, at any level) and message_id_hash (anything with
    a Message-ID) set. Hashes a reader set already (`hash_when_read`) are kept; only the rows
    missing one go through the Python UDFs. Other columns are untouched."""
    from pyspark.sql import functions as F

    columns = items.columns
    is_email = F.col("type") == EMAIL_TYPE
    needs_email_hash = is_email & F.col("email_hash").isNull()
    needs_mih = F.col("message_id").isNotNull() & F.col("message_id_hash").isNull()
    needs_udf = F.coalesce(needs_email_hash | needs_mih, F.lit(False))
    # Split, because Spark evaluates a Python UDF for every row of its input, whatever
    # condition surrounds it.
    done = (items.where(~needs_udf)
            .withColumn("email_hash", F.when(is_email, F.col("email_hash")))
            .withColumn("message_id_hash", F.when(F.col("message_id").isNotNull(),
                                                  F.col("message_id_hash"))))
    todo = items.where(needs_udf)
    digests = attachment_digests(items)
    joined = todo.join(digests, todo["id"] == digests["email_id"], "left")
    computed = _udf(_email_hash_from_row)(F.col("from_address"), F.col("recipient_addresses"),
                                          F.col("subject"), F.unix_timestamp("date"),
                                          F.col("body"), F.col("attachments"))
    hashed = (joined
              .withColumn("email_hash", F.when(is_email, F.coalesce("email_hash", computed)))
              .withColumn("message_id_hash", F.coalesce(
                  "message_id_hash", _udf(message_id_hash)(F.col("message_id")))))
    return done.select(*columns).unionByName(hashed.select(*columns))
