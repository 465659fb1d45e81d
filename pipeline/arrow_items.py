"""Items as Arrow record batches, in the item schema's order and types, for `mapInArrow`.

Arrow holds strings as UTF-8, which cannot hold a lone surrogate (what `surrogateescape`
decoding leaves of undecodable bytes); the JVM turns one into U+FFFD when a pickled row crosses,
and so does this (`hashes.as_stored`), so both ways store the same text. A date without a zone
is read as local time, as Spark reads a naive datetime.
"""

from __future__ import annotations

import functools
from datetime import timezone
from typing import Any

from pipeline.schema import item_fields
from pipeline.transforms.hashes import as_stored


@functools.lru_cache(maxsize=1)
def item_schema() -> Any:
    import pyarrow as pa

    scalar = {"keyword": pa.string(), "text": pa.string(), "address": pa.string(),
              "date": pa.timestamp("us", tz="UTC"), "integer": pa.int32(),
              "long": pa.int64(), "double": pa.float64(), "boolean": pa.bool_()}
    return pa.schema([pa.field(spec.name, pa.list_(pa.field("element", scalar[spec.type],
                                                            nullable=False))
                               if spec.array else scalar[spec.type])
                      for spec in item_fields()])


def item_batch(rows: list[tuple], schema: Any) -> Any:
    """One record batch of item rows (`Item.to_row`)."""
    import pyarrow as pa

    columns = [_column(values, field.type) for values, field in zip(zip(*rows), schema)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _column(values: tuple, arrow_type: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        values = tuple(value.astimezone(timezone.utc)
                       if value is not None and value.tzinfo is None else value
                       for value in values)
    try:
        return pa.array(values, type=arrow_type)
    except UnicodeEncodeError:   # a lone surrogate somewhere in this column
        if pa.types.is_list(arrow_type):
            values = tuple(None if value is None else [as_stored(text) for text in value]
                           for value in values)
        else:
            values = tuple(as_stored(value) for value in values)
        return pa.array(values, type=arrow_type)
