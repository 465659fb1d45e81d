import json

from pipeline.records import ITEM_FIELD_NAMES
from pipeline.schema import ITEM_MAPPING_PATH, es_mapping, field_names, render_mapping


def test_committed_mapping_is_what_the_item_schema_generates():
    assert ITEM_MAPPING_PATH.read_text() == render_mapping(), (
        "schemas/es/items.mapping.json is stale: run `make schemas` and commit it")


def test_item_record_mirrors_the_schema_in_order():
    assert ITEM_FIELD_NAMES == field_names()


def test_mapping_is_strict_and_leaves_out_staging_only_fields():
    mapping = json.loads(ITEM_MAPPING_PATH.read_text())["mappings"]
    assert mapping["dynamic"] == "strict"
    assert "body_html" not in mapping["properties"]
    assert mapping["properties"]["headers"] == {"type": "text", "index": False}


def test_address_fields_are_searchable_text_with_an_exact_keyword():
    properties = es_mapping()["mappings"]["properties"]
    for name in ("from", "to", "cc", "bcc"):
        assert properties[name]["type"] == "text"
        assert properties[name]["fields"]["keyword"]["type"] == "keyword"
    for name in ("custodians", "from_address", "recipient_addresses", "message_id"):
        assert properties[name]["type"] == "keyword"


def test_mapping_needs_no_analyzer_the_embedded_node_lacks():
    assert "analysis" not in es_mapping()["settings"]


def test_source_file_rows_match_the_sources_frame_columns():
    import dataclasses

    from pipeline.records import SourceFile
    from pipeline.transforms.ingest import SOURCE_FIELDS

    assert [f.name for f in dataclasses.fields(SourceFile)] == [name for name, _ in SOURCE_FIELDS]
