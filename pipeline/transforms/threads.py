"""Threads: the conversation each top-level email belongs to, its place in it, and whether a
reviewer must read it (is_inclusive). The rules are in docs/deduplication.md.

Threading works on messages, not copies: every top-level email is a node named by its
Message-ID (or, without one, by its master's id), so all copies of a message, in any mailbox,
get the same thread values. Nodes are linked through the ids in In-Reply-To and References,
through the conversation part (first 22 bytes) of Outlook's conversation index, and, for
messages with none of those, through their normalised subject plus participants. Threads are the
connected components of those links (`connected_components`).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator

from pipeline.transforms.hashes import EMAIL_TYPE, normalise_whitespace

REPLY_PREFIX = re.compile(r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|tr)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*",
                          re.IGNORECASE)
# Outlook's conversation index: a 22-byte header naming the conversation, then 5 bytes per
# reply. Stored hex-encoded, so 44 and 10 hex digits.
CONVERSATION_HEX = 44
REPLY_BLOCK_HEX = 10
THREAD_INDEX_HEADER = r"(?im)^thread-index:[ \t]*([A-Za-z0-9+/=]+)"
MAX_COMPONENT_ROUNDS = 64
# A graph of up to this many distinct directed edges gets its components in one Python worker,
# with numpy; a larger one takes the label-propagation rounds, which spread over the cluster.
# The worker holds about 130 bytes an edge at its peak, so about 1 GB at this bound; the threads
# of a million messages have 2.6 million links, so at most twice as many directed edges.
LOCAL_COMPONENT_EDGES = 8_000_000
# Rows of each Arrow batch the one worker hands back.
LABEL_BATCH_ROWS = 1 << 16
# thread_subject in the JVM, for ASCII subjects only: there Java's regex and lower-casing
# agree with Python's, and NFC changes nothing. A run of what str.split() takes for
# whitespace in ASCII (the information separators 1C-1F included), and every Re:/Fwd: prefix
# at once: removing REPLY_PREFIX until nothing changes is the same as removing one run of it.
ASCII_WHITESPACE_RUN = r"[\t\n\x0B\f\r\x1C-\x1F ]+"
ASCII_ONLY = r"^[\x00-\x7F]*$"
REPLY_PREFIX_RUN = "(?i)^(?:" + REPLY_PREFIX.pattern.removeprefix("^") + ")+"


def thread_subject(subject: str | None) -> tuple[str, bool]:
    """(subject without Re:/Fwd:/AW:/WG:… prefixes, whitespace-normalised and case-folded;
    whether there was such a prefix)."""
    text = normalise_whitespace(subject)
    stripped = text
    while True:
        shorter = REPLY_PREFIX.sub("", stripped, count=1)
        if shorter == stripped:
            break
        stripped = shorter
    return stripped.strip().casefold(), stripped != text


def _subject_udf() -> Any:
    """thread_subject as an Arrow UDF: one call per batch, not one pickled row per call."""
    from pyspark.sql import functions as F

    # No type hints: Spark would read the UDF's flavour from them, and without any it takes
    # the scalar one (a batch of subjects in, a batch of results out).
    def thread_subjects(subjects):
        import pyarrow as pa

        pairs = [thread_subject(subject) for subject in subjects.to_pylist()]
        return pa.StructArray.from_arrays(
            [pa.array([stripped for stripped, _ in pairs], pa.string()),
             pa.array([reply for _, reply in pairs], pa.bool_())], names=["subject", "reply"])

    return F.arrow_udf(thread_subjects, "struct<subject:string,reply:boolean>")


def with_thread_subject(emails: Any) -> Any:
    """emails with thread_subject and subject_reply, exactly as thread_subject() gives them.

    The JVM works them out for ASCII subjects, nearly all of them; only the others, which need
    NFC, Unicode whitespace and full case folding, cross to Python."""
    from pyspark.sql import functions as F

    text = F.coalesce("subject", F.lit(""))
    ascii_only = text.rlike(ASCII_ONLY)
    collapsed = F.trim(F.regexp_replace(text, ASCII_WHITESPACE_RUN, " "))
    stripped = F.regexp_replace(collapsed, REPLY_PREFIX_RUN, "")
    in_jvm = emails.where(ascii_only).select(
        "*", F.lower(F.trim(stripped)).alias("thread_subject"),
        (stripped != collapsed).alias("subject_reply"))
    subject = _subject_udf()(F.col("subject"))
    in_python = emails.where(~ascii_only).select(
        "*", subject["subject"].alias("thread_subject"), subject["reply"].alias("subject_reply"))
    return in_jvm.unionByName(in_python)


# --- Connected components (shared with near_duplicates) ---------------------------------------

def connected_components(edges: Any, max_rounds: int = MAX_COMPONENT_ROUNDS,
                         vertex_key: Callable[[Any], Any] | None = None,
                         local_edges: int = LOCAL_COMPONENT_EDGES) -> Any:
    """(vertex, component) for the undirected graph `edges` (src, dst); a component is named by
    its smallest vertex.

    Up to `local_edges` distinct edges, one task finds the components in numpy
    (`component_labels`): at a million messages the threads step took 71 s instead of 85. A
    larger graph takes min-label propagation plus pointer jumping (a label's own
    label), so a chain of length n settles in about log n rounds. Each round is a few joins and
    a groupBy; it stops when a round changed no label, which a scan of the round's result
    tells. Either way, nothing but counts and that yes/no reaches the driver.

    The rounds run on a 64-bit key of each vertex (`vertex_key` of the string column, xxhash64
    unless given), whose joins and shuffles cost far less than the strings'; each component is
    then named by its smallest string. Two vertices sharing a key would merge their components,
    so then (or with a null vertex) the rounds run on the strings instead: one more scan
    tells."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key_of = vertex_key or F.xxhash64

    def keyed(column: str) -> Any:
        return F.when(F.col(column).isNotNull(), key_of(F.col(column))).alias(column + "_key")

    # Read twice below, and callers may pass edges that are costly to compute.
    edges = edges.select("src", "dst", keyed("src"), keyed("dst")).localCheckpoint()
    directed = edges.union(edges.select("dst", "src", "dst_key", "src_key"))
    vertices = (directed.groupBy("src_key")
                .agg(F.min("src").alias("name"), F.max("src").alias("other_name"),
                     F.least(F.min("dst_key"), F.col("src_key")).alias("label"))
                .withColumnRenamed("src_key", "vertex").localCheckpoint())
    key_shared = F.col("vertex").isNull() | (F.col("name") != F.col("other_name"))
    if not vertices.where(key_shared).isEmpty():
        return _string_components(edges, max_rounds)
    key_edges = (directed.select(F.col("src_key").alias("src"), F.col("dst_key").alias("dst"))
                 .distinct().localCheckpoint())
    if key_edges.count() <= local_edges:
        labels = _local_labels(key_edges)
    else:
        labels = _settle(key_edges, vertices.select("vertex", "label"), max_rounds)
    # A window rather than a groupBy joined back: one shuffle instead of three.
    return (labels.join(vertices.select("vertex", "name"), "vertex")
            .select(F.col("name").alias("vertex"),
                    F.min("name").over(Window.partitionBy("label")).alias("component")))


def _local_labels(key_edges: Any) -> Any:
    """(vertex, label) of every vertex of `key_edges` (src, dst: longs, both directions), the
    label being the smallest vertex of its component, found in one task."""
    def label(batches: Iterable[Any]) -> Iterator[Any]:
        import numpy as np
        import pyarrow as pa

        sources, targets = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for batch in batches:
            sources.append(batch.column("src").to_numpy())
            targets.append(batch.column("dst").to_numpy())
        vertices, labels = component_labels(np.concatenate(sources), np.concatenate(targets))
        for start in range(0, len(vertices), LABEL_BATCH_ROWS):
            stop = start + LABEL_BATCH_ROWS
            yield pa.RecordBatch.from_arrays(
                [pa.array(vertices[start:stop]), pa.array(labels[start:stop])],
                ["vertex", "label"])

    return key_edges.select("src", "dst").repartition(1).mapInArrow(
        label, "vertex long, label long")


def component_labels(sources: Any, targets: Any) -> tuple[Any, Any]:
    """(vertices, labels): every vertex of the undirected graph whose edges join sources[k] and
    targets[k] (integer arrays), in ascending order, and the smallest vertex of its component.

    Each round hooks, along every edge joining two trees, the tree with the larger root under
    the smaller root, then flattens every tree to a star (pointer jumping), and drops the edges
    that now lie inside one tree. The smallest vertex of a component is never hooked under
    another, so it ends as the root of all of it. Every round merges at least one pair of trees,
    and in practice about halves their number."""
    import numpy as np

    vertices, positions = np.unique(np.concatenate([sources, targets]), return_inverse=True)
    ends = positions.reshape(2, -1)
    parent = np.arange(len(vertices))
    while ends.shape[1]:
        roots = parent[ends]
        crossing = roots[0] != roots[1]
        roots, ends = roots[:, crossing], ends[:, crossing]
        if not ends.shape[1]:
            break
        np.minimum.at(parent, roots.max(axis=0), roots.min(axis=0))
        while True:
            grandparent = parent[parent]
            if np.array_equal(grandparent, parent):
                break
            parent = grandparent
    return vertices, vertices[parent]


def _string_components(edges: Any, max_rounds: int) -> Any:
    """connected_components with the strings themselves as labels."""
    from pyspark.sql import functions as F

    both = (edges.select("src", "dst")
            .union(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
            .distinct().localCheckpoint())
    labels = (both.groupBy("src").agg(F.least(F.min("dst"), F.col("src")).alias("label"))
              .withColumnRenamed("src", "vertex").localCheckpoint())
    return _settle(both, labels, max_rounds).select("vertex",
                                                    F.col("label").alias("component"))


def _settle(both: Any, labels: Any, max_rounds: int) -> Any:
    """(vertex, label) once a round changes no label, or after max_rounds."""
    from pyspark.sql import functions as F

    for _ in range(max_rounds):
        labels = _propagate_once(both, labels).localCheckpoint()
        if labels.where(F.col("changed")).isEmpty():
            break
        labels = labels.drop("changed")
    return labels.select("vertex", "label")


def _propagate_once(both: Any, labels: Any) -> Any:
    """(vertex, label, changed): each vertex takes the smallest label among its own and its
    neighbours', then the label of that label."""
    from pyspark.sql import functions as F

    no_label = F.lit(None).cast(labels.schema["label"].dataType)
    from_neighbours = (both.join(labels.withColumnRenamed("vertex", "dst"), "dst")
                       .select(F.col("src").alias("vertex"), "label", no_label.alias("before")))
    merged = (from_neighbours.union(labels.select("vertex", "label", F.col("label")
                                                  .alias("before")))
              .groupBy("vertex").agg(F.min("label").alias("label"),
                                     F.max("before").alias("before")))
    # Every label is itself a vertex, so the inner join keeps every row.
    jump = merged.select(F.col("vertex").alias("label"), F.col("label").alias("label_of_label"))
    settled = F.least("label", "label_of_label")
    return (merged.join(jump, "label")
            .select("vertex", settled.alias("label"), (settled != F.col("before"))
                    .alias("changed")))


# --- From items to messages -------------------------------------------------------------------

def with_conversation_index(items: Any) -> Any:
    """Fill conversation_index from the Thread-Index header (base64) where the reader left it
    empty, as EML and mbox readers do; always lower-case hex, as the MSG reader writes it."""
    from pyspark.sql import functions as F

    encoded = F.regexp_extract(F.coalesce("headers", F.lit("")), THREAD_INDEX_HEADER, 1)
    decoded = F.lower(F.hex(F.try_to_binary(encoded, F.lit("base64"))))
    from_header = F.when((encoded != "") & (F.length(decoded) >= CONVERSATION_HEX), decoded)
    filled = F.coalesce(F.lower("conversation_index"), from_header)
    return items.withColumn("conversation_index",
                            F.when(F.col("type") == EMAIL_TYPE, filled)
                            .otherwise(F.col("conversation_index")))


def node_key() -> Any:
    """The message a top-level email is a copy of: its Message-ID, else its master's id."""
    from pyspark.sql import functions as F

    message_id = F.trim("message_id")
    return F.when(message_id != "", F.concat(F.lit("mid:"), message_id)).otherwise(
        F.concat(F.lit("item:"), F.coalesce("master_id", "id")))


def top_level_emails(items: Any) -> Any:
    from pyspark.sql import functions as F

    return items.where((F.col("type") == EMAIL_TYPE) & (F.col("level") == 0))


def message_rows(items: Any) -> Any:
    """One row per top-level email with what threading needs; several rows may share a node."""
    from pyspark.sql import functions as F

    references = F.coalesce("references", F.array().cast("array<string>"))
    # A conversation index too short to name a conversation links nothing: fall back.
    has_conversation = F.coalesce(F.length("conversation_index") >= CONVERSATION_HEX,
                                  F.lit(False))
    has_links = (F.col("in_reply_to").isNotNull() | (F.size(references) > 0)
                 | has_conversation)
    participants = F.array_sort(F.array_distinct(F.filter(
        F.concat(F.array("from_address"), F.coalesce("recipient_addresses",
                                                     F.array().cast("array<string>"))),
        lambda address: address.isNotNull() & (address != ""))))
    return with_thread_subject(top_level_emails(items)).select(
        node_key().alias("node"), "id", "date", "in_reply_to",
        references.alias("references"), "conversation_index",
        F.coalesce("attachment_names", F.array().cast("array<string>")).alias("attachments"),
        (~has_links).alias("fallback"), "thread_subject", "subject_reply",
        participants.alias("participants"))


def link_edges(messages: Any) -> Any:
    """(src, dst): each node to itself, to every id it replies to or references, to its
    conversation, and (only without any of those) to its subject-and-participants key."""
    from pyspark.sql import functions as F

    node = F.col("node")
    itself = messages.select(node.alias("src"), node.alias("dst"))
    replied = messages.where(F.col("in_reply_to").isNotNull()).select(
        node.alias("src"), F.concat(F.lit("mid:"), "in_reply_to").alias("dst"))
    referenced = messages.select(node.alias("src"), F.explode("references").alias("ref")).select(
        "src", F.concat(F.lit("mid:"), "ref").alias("dst"))
    conversation = messages.where(F.length("conversation_index") >= CONVERSATION_HEX).select(
        node.alias("src"), F.concat(F.lit("conv:"), F.substring("conversation_index", 1,
                                                               CONVERSATION_HEX)).alias("dst"))
    subject_key = F.sha2(F.concat_ws("\u0001", "thread_subject",
                                     F.concat_ws(",", "participants")), 256)
    by_subject = messages.where(F.col("fallback") & (F.col("thread_subject") != "")).select(
        node.alias("src"), F.concat(F.lit("subj:"), subject_key).alias("dst"))
    return itself.union(replied).union(referenced).union(conversation).union(by_subject)


def reply_depth() -> Any:
    """How deep in the reply tree a message sits, from whatever says so: the number of ids in
    References (or 1 for an In-Reply-To alone), the reply blocks of the conversation index, or
    1 for a subject-only message with a Re:/Fwd: prefix."""
    from pyspark.sql import functions as F

    by_references = F.greatest(F.size("references"),
                               F.when(F.col("in_reply_to").isNotNull(), 1).otherwise(0))
    by_conversation = F.when(
        F.length("conversation_index") >= CONVERSATION_HEX,
        F.floor((F.length("conversation_index") - CONVERSATION_HEX) / REPLY_BLOCK_HEX)
    ).otherwise(0)
    by_subject = F.when(F.col("fallback") & F.col("subject_reply"), 1).otherwise(0)
    return F.greatest(by_references, by_conversation.cast("int"), by_subject)


def node_facts(messages: Any, components: Any) -> Any:
    """One row per node: its thread, reply depth, first date, parent id and attachments."""
    from pyspark.sql import functions as F

    parent_id = F.coalesce("in_reply_to", F.try_element_at("references", F.lit(-1)))
    facts = messages.groupBy("node").agg(
        F.max(reply_depth()).alias("depth"), F.min("date").alias("date"),
        F.max(parent_id).alias("parent_message_id"),
        F.max("conversation_index").alias("conversation_index"),
        F.min(F.col("fallback").cast("int")).alias("fallback"),
        F.min_by("attachments", "id").alias("attachments"))
    thread_id = F.substring(F.sha2(F.concat(F.lit("thread:"), "component"), 256), 1, 32)
    return (facts.join(components.withColumnRenamed("vertex", "node"), "node")
            .select("*", thread_id.alias("thread_id")).drop("component"))


def with_positions(nodes: Any) -> Any:
    """thread_position: 0 for the first message, then by reply depth, date and node."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("thread_id").orderBy(
        "depth", F.col("date").asc_nulls_last(), "node")
    return nodes.withColumn("thread_position", (F.row_number().over(order) - 1).cast("int"))


def reply_parents(nodes: Any) -> Any:
    """(node, parent): the message each message answers, where that message is in the case.

    By In-Reply-To (else the last References id); by the conversation index without its last
    reply block; and for subject-only messages, the subject-only message just before it in the
    thread."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    known = nodes.select(F.col("node").alias("parent"))
    by_header = (nodes.where(F.col("parent_message_id").isNotNull())
                 .select("node", F.concat(F.lit("mid:"), "parent_message_id").alias("parent"))
                 .join(known, "parent"))
    parent_index = F.expr(f"substring(conversation_index, 1, "
                          f"length(conversation_index) - {REPLY_BLOCK_HEX})")
    by_conversation = (nodes.where(F.length("conversation_index") > CONVERSATION_HEX)
                       .select("node", parent_index.alias("parent_index"))
                       .join(nodes.select(F.col("node").alias("parent"),
                                          F.col("conversation_index").alias("parent_index")),
                             "parent_index")
                       .select("node", "parent"))
    # Subject-only messages form a chain among themselves, in thread order: ordering them
    # among header-linked messages could make a message the parent of its own parent.
    subject_only = (nodes.where(F.col("fallback") == 1)
                    .withColumn("rank", F.row_number().over(
                        Window.partitionBy("thread_id").orderBy("thread_position"))))
    previous = subject_only.select("thread_id", (F.col("rank") + 1).alias("rank"),
                                   F.col("node").alias("parent"))
    by_order = subject_only.join(previous, ["thread_id", "rank"]).select("node", "parent")
    return (by_header.select("node", "parent").union(by_conversation).union(by_order)
            .where(F.col("node") != F.col("parent")).distinct())


def inclusive_nodes(nodes: Any, parents: Any) -> Any:
    """(node, is_inclusive): leaves of the reply tree, and messages carrying an attachment that
    none of their replies carries on (compared by name)."""
    from pyspark.sql import functions as F

    name = F.lower(F.trim("name")).alias("name")
    answered = parents.select(F.col("parent").alias("node")).distinct()
    own = nodes.select("node", F.explode("attachments").alias("name")).select("node", name)
    carried = (parents.join(nodes.select("node", "attachments"), "node")
               .select(F.col("parent").alias("node"), F.explode("attachments").alias("name"))
               .select("node", name))
    dropped = own.join(carried, ["node", "name"], "left_anti").select("node").distinct()
    flags = (nodes.select("node")
             .join(answered.withColumn("answered", F.lit(True)), "node", "left")
             .join(dropped.withColumn("dropped", F.lit(True)), "node", "left"))
    return flags.select("node", (F.col("answered").isNull() | F.col("dropped").isNotNull())
                        .alias("is_inclusive"))


# What threading sets, on top-level emails only.
THREAD_COLUMNS = ("thread_id", "thread_position", "is_inclusive")


def thread_decisions(items: Any) -> Any:
    """items (deduplicated, conversation_index filled: `with_conversation_index`) ->
    (id, thread_id, thread_position, is_inclusive), one row for every top-level email; other
    items have none, and their thread columns stay null."""
    # Read by each kind of link, by the node facts and for the ids at the end.
    messages = message_rows(items).localCheckpoint()
    components = connected_components(link_edges(messages))
    nodes = with_positions(node_facts(messages, components)).localCheckpoint()
    results = (nodes.select("node", "thread_id", "thread_position")
               .join(inclusive_nodes(nodes, reply_parents(nodes)), "node"))
    return messages.select("id", "node").join(results, "node").select(
        "id", *THREAD_COLUMNS)
