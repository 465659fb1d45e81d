"""The item schema in schemas/item.schema.json, and what is generated from it.

`spark_schema()` gives the staging store's StructType and `es_mapping()` the Elasticsearch index
body. `python -m pipeline.schema` rewrites schemas/es/items.mapping.json; a unit test fails when
the committed file differs from what the schema generates.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
ITEM_SCHEMA_PATH = SCHEMAS_DIR / "item.schema.json"
ITEM_MAPPING_PATH = SCHEMAS_DIR / "es" / "items.mapping.json"

# The embedded integ-test-zip node has no analysis-common module: only the built-in standard,
# simple, whitespace, keyword and stop analyzers exist. Addresses therefore use the standard
# analyzer (names and address parts) plus an exact keyword subfield, and from_address /
# recipient_addresses hold the bare addresses as keywords.
_ES_TYPES = {"keyword": "keyword", "text": "text", "address": "text", "date": "date",
             "integer": "integer", "long": "long", "double": "double", "boolean": "boolean"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    array: bool = False
    index: bool = True
    staging_only: bool = False
    keyword_subfield: bool = False
    description: str = ""


@lru_cache(maxsize=None)
def item_fields() -> tuple[FieldSpec, ...]:
    raw = json.loads(ITEM_SCHEMA_PATH.read_text(encoding="utf-8"))
    return tuple(FieldSpec(**field) for field in raw["fields"])


def item_schema_version() -> int:
    return int(json.loads(ITEM_SCHEMA_PATH.read_text(encoding="utf-8"))["version"])


def field_names() -> tuple[str, ...]:
    return tuple(field.name for field in item_fields())


def spark_schema() -> Any:
    from pyspark.sql import types as T

    scalar = {"keyword": T.StringType(), "text": T.StringType(), "address": T.StringType(),
              "date": T.TimestampType(), "integer": T.IntegerType(), "long": T.LongType(),
              "double": T.DoubleType(), "boolean": T.BooleanType()}
    fields = []
    for spec in item_fields():
        data_type = scalar[spec.type]
        if spec.array:
            data_type = T.ArrayType(data_type, containsNull=False)
        fields.append(T.StructField(spec.name, data_type, nullable=True))
    return T.StructType(fields)


def _es_property(spec: FieldSpec) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": _ES_TYPES[spec.type]}
    if spec.keyword_subfield or spec.type == "address":
        prop["fields"] = {"keyword": {"type": "keyword", "ignore_above": 1024}}
    if spec.type == "keyword":
        prop["ignore_above"] = 8191
    if spec.type == "date":
        prop["format"] = "strict_date_optional_time"
    if not spec.index:
        prop = {"type": prop["type"], "index": False}
    return prop


def es_mapping() -> dict[str, Any]:
    """The index body (settings and mappings) every case index is created with."""
    properties = {spec.name: _es_property(spec) for spec in item_fields() if not spec.staging_only}
    return {
        "settings": {},
        "mappings": {
            "dynamic": "strict",
            "_meta": {"item_schema_version": item_schema_version()},
            "properties": properties,
        },
    }


def es_field_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in item_fields() if not spec.staging_only)


def render_mapping() -> str:
    return json.dumps(es_mapping(), indent=2, sort_keys=True) + "\n"


def write_mapping(path: Path = ITEM_MAPPING_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_mapping(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_mapping(), file=sys.stderr)
