"""Reading Arrow string arrays from their buffers, without a Python string per value."""

from __future__ import annotations

from typing import Any


def string_offsets(strings: Any) -> Any:
    """The int64 offsets of an Arrow string array into its data buffer (strings.buffers()[2]):
    value k is data[offsets[k]:offsets[k+1]]. A sliced array's own offsets are read."""
    import numpy as np
    import pyarrow as pa

    offset_type = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    return np.frombuffer(strings.buffers()[1], dtype=offset_type, count=len(strings) + 1,
                         offset=strings.offset * offset_type().itemsize).astype(np.int64)
