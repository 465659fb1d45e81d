"""The case's index behind its alias.

Each case is written to a versioned index, `<prefix>-<case>-items-<mapping hash>`, reached
through the alias `<prefix>-<case>`. Re-runs reuse the index and overwrite documents by their
deterministic `_id`. When the mapping changes, a new index is built and the alias swapped
over in one atomic step, then the old index is removed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.config import ElasticsearchConfig
from pipeline.errors import CaseNotFoundError
from pipeline.schema import ITEM_MAPPING_PATH


def load_mapping() -> dict[str, Any]:
    """The committed mapping in schemas/es/, which a unit test keeps equal to the item schema."""
    return json.loads(ITEM_MAPPING_PATH.read_text(encoding="utf-8"))


def mapping_fingerprint(mapping: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:10]


def alias_name(es: ElasticsearchConfig, case: str) -> str:
    return f"{es.index_prefix}-{case}"


@dataclass(frozen=True)
class CaseIndex:
    alias: str
    index: str
    previous: tuple[str, ...]


def prepare_index(client: Any, es: ElasticsearchConfig, case: str) -> CaseIndex:
    """Create the index for the current mapping if needed, tuned for a bulk load."""
    mapping = load_mapping()
    alias = alias_name(es, case)
    index = f"{alias}-items-{mapping_fingerprint(mapping)}"
    previous: tuple[str, ...] = ()
    if client.indices.exists_alias(name=alias):
        previous = tuple(sorted(i for i in client.indices.get_alias(name=alias) if i != index))
    if not client.indices.exists(index=index):
        body = json.loads(json.dumps(mapping))
        body["settings"]["number_of_shards"] = es.number_of_shards
        body["settings"]["number_of_replicas"] = es.number_of_replicas
        client.indices.create(index=index, settings=body["settings"], mappings=body["mappings"])
    # Refreshing during a bulk load only costs time; it is restored in publish_index.
    client.indices.put_settings(index=index, settings={"index": {"refresh_interval": "-1"}})
    return CaseIndex(alias=alias, index=index, previous=previous)


def publish_index(client: Any, case_index: CaseIndex) -> None:
    """Restore refreshes, make the documents visible and point the alias at this index."""
    client.indices.put_settings(index=case_index.index,
                                settings={"index": {"refresh_interval": None}})
    client.indices.refresh(index=case_index.index)
    actions: list[dict[str, Any]] = [{"add": {"index": case_index.index,
                                              "alias": case_index.alias}}]
    actions += [{"remove": {"index": old, "alias": case_index.alias}}
                for old in case_index.previous]
    client.indices.update_aliases(actions=actions)
    for old in case_index.previous:
        client.indices.delete(index=old)


def resolve_case(client: Any, es: ElasticsearchConfig, case: str) -> str:
    """The alias of an existing case, or a clear error naming the cases that exist."""
    alias = alias_name(es, case)
    if client.indices.exists_alias(name=alias):
        return alias
    known = list_cases(client, es)
    hint = f" Known cases: {', '.join(known)}." if known else " No case has been run yet."
    raise CaseNotFoundError(f"no case '{case}' in Elasticsearch.{hint}")


def list_cases(client: Any, es: ElasticsearchConfig) -> list[str]:
    prefix = f"{es.index_prefix}-"
    aliases = client.cat.aliases(name=f"{prefix}*", format="json")
    return sorted({entry["alias"][len(prefix):] for entry in aliases})
