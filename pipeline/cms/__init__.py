"""Case-management-system records: exports of complaints, allegations, decisions and logs.

A mapping file per source system (conf/records/<system>.yaml, `mapping.py`) says which export
column holds which record field. `readers.py` turns CSV, JSON, JSONL and XLSX exports into rows,
`dates.py` reads their dates, `linking.py` links the people they name to the case's custodians,
`normalise.py` turns each row into a record item or a reject, and `transform.py` runs it all as
a Spark job. `generator.py` writes synthetic exports for the tests and the demo.
"""
