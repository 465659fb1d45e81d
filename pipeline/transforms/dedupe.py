"""Deduplication by family, globally or within each custodian (docs/deduplication.md).

Top-level items are matched on a dedup key: emails by email_hash, every other top-level item by
sha256; exception records never. Attachments are never matched on their own: each follows its
family, and is a copy of the child at the same family_path in the master family. Every copy
keeps its own custodian; master_id, is_duplicate, custodians, duplicate_count and
duplicate_paths are set on every item. Joins and groupBys only: nothing reaches the driver.
"""

from __future__ import annotations

from typing import Any

from pipeline.transforms.hashes import EMAIL_TYPE, EXCEPTION_TYPE

GLOBAL, CUSTODIAL = "global", "custodial"
DEDUP_MODES = (GLOBAL, CUSTODIAL)
OFFSET_LOCATOR = r"^offset (\d+)"


def dedup_key(mode: str) -> Any:
    """What makes two top-level items copies of each other; null where nothing may match."""
    from pyspark.sql import functions as F

    if mode not in DEDUP_MODES:
        raise ValueError(f"dedup mode must be one of {', '.join(DEDUP_MODES)} (got {mode!r})")
    content = (F.when(F.col("type") == EMAIL_TYPE, F.concat(F.lit("email:"), "email_hash"))
               .otherwise(F.concat(F.lit("sha256:"), "sha256")))
    key = F.when((F.col("level") == 0) & (F.col("type") != EXCEPTION_TYPE), content)
    if mode == CUSTODIAL:
        # The custodian becomes part of the key, so copies only meet their own custodian's.
        key = F.when(key.isNotNull(), F.concat_ws("|", F.col("custodian_id"), key))
    return key


def master_order() -> Any:
    """The master rule as a sortable struct, smallest first: custodian display name, source
    path, position in the file (mbox byte offset as a number, then the locator text), item id.
    Only the copies' own fields take part, so the master does not depend on read order."""
    from pyspark.sql import functions as F

    offset = F.regexp_extract("source_locator", OFFSET_LOCATOR, 1).try_cast("long")
    return F.struct(F.coalesce("custodian", F.lit("")).alias("custodian"),
                    F.coalesce("source_path", F.lit("")).alias("source_path"),
                    F.coalesce(offset, F.lit(-1)).alias("offset"),
                    F.coalesce("source_locator", F.lit("")).alias("locator"),
                    F.col("id").alias("id"))


def family_masters(items: Any, mode: str) -> Any:
    """(family_id, master_family): for each keyed top-level item, the top-level id of its
    family's master copy (its own id on the master)."""
    from pyspark.sql import functions as F

    top = (items.select("id", dedup_key(mode).alias("dedup_key"), master_order().alias("order"))
           .where(F.col("dedup_key").isNotNull()))
    masters = top.groupBy("dedup_key").agg(F.min_by("id", "order").alias("master_family"))
    return top.join(masters, "dedup_key").select(F.col("id").alias("family_id"), "master_family")


def assign_masters(items: Any, mode: str) -> Any:
    """items + master_id, is_duplicate and copy_group (the key the copies are counted under).

    A child of a duplicate family points at the child with the same family_path in the master
    family. Should that child be missing (never seen: the email hash covers the attachments)
    the copy still follows its family: a duplicate, pointing at the master family's top, and
    counted on its own.
    """
    from pyspark.sql import functions as F

    counterparts = (items.where(F.col("type") != EXCEPTION_TYPE)
                    .select(F.col("family_id").alias("counterpart_family"),
                            F.col("family_path").alias("counterpart_path"),
                            F.col("id").alias("counterpart")))
    linked = items.join(family_masters(items, mode), "family_id", "left")
    is_child = F.col("level") > 0
    followed = F.col("master_family").isNotNull() & (F.col("type") != EXCEPTION_TYPE)
    matched = linked.join(counterparts, is_child & followed
                          & (F.col("master_family") == F.col("counterpart_family"))
                          & (F.col("family_path") == F.col("counterpart_path")), "left")
    master_id = (F.when(~followed, F.col("id"))
                 .when(is_child, F.coalesce("counterpart", "master_family"))
                 .otherwise(F.col("master_family")))
    orphan = is_child & followed & F.col("counterpart").isNull()
    return (matched
            .withColumn("master_id", master_id)
            .withColumn("is_duplicate", orphan | (F.col("master_id") != F.col("id")))
            .withColumn("copy_group", F.when(orphan, F.col("id")).otherwise(F.col("master_id")))
            .drop("master_family", "counterpart_family", "counterpart_path", "counterpart"))


def copy_groups(assigned: Any) -> Any:
    """Per copy group: every custodian holding a copy, where each copy is, how many there are."""
    from pyspark.sql import functions as F

    where = F.concat_ws("#", F.coalesce("source_path", F.lit("")),
                        F.coalesce("source_locator", F.lit("")))
    return (assigned.groupBy("copy_group")
            .agg(F.array_sort(F.collect_set("custodian")).alias("group_custodians"),
                 F.array_sort(F.collect_list(where)).alias("group_paths"),
                 F.count(F.lit(1)).cast("int").alias("group_count")))


# What deciding copies reads: the rest of an item (its body above all) stays where it is.
DECIDING_COLUMNS = ("id", "type", "level", "family_id", "family_path", "email_hash", "sha256",
                    "custodian", "custodian_id", "source_path", "source_locator")
DECIDED_COLUMNS = ("master_id", "is_duplicate", "custodians", "duplicate_count",
                   "duplicate_paths")


def copy_decisions(items: Any, mode: str = GLOBAL) -> Any:
    """items (with email_hash) -> (id, master_id, is_duplicate, custodians, duplicate_count,
    duplicate_paths), one row for every item.

    The decision reads DECIDING_COLUMNS only; the caller joins it onto the items once, with the
    other steps' decisions (`analyse`), so an item's other columns are not shuffled for it."""
    from pyspark.sql import functions as F

    assigned = assign_masters(items.select(*DECIDING_COLUMNS), mode)
    counted = assigned.join(copy_groups(assigned), "copy_group")
    no_paths = F.array().cast("array<string>")
    return counted.select(
        "id", "master_id", "is_duplicate", F.col("group_custodians").alias("custodians"),
        F.col("group_count").alias("duplicate_count"),
        F.when(~F.col("is_duplicate"), F.col("group_paths")).otherwise(no_paths)
        .alias("duplicate_paths"))
