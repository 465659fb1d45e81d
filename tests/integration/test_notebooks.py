"""Tier 3: the analyst notebooks run from top to bottom against a crafted case.

The case name reaches them through TRAWL_CASE, as it would for an analyst; any cell error
fails the test. The committed notebooks must carry no outputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import create_case
from test_reports import DOCS

pytestmark = pytest.mark.integration

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
CASE = "test-qnotebooks"


@pytest.fixture(scope="module")
def notebook_case(es_client, test_config):
    index = create_case(es_client, test_config.elasticsearch, CASE,
                        [{**doc, "case": CASE} for doc in DOCS])
    yield CASE
    es_client.indices.delete(index=index)


def test_there_are_three_notebooks_committed_without_outputs():
    import nbformat

    assert {path.stem for path in NOTEBOOKS} == {"search_walkthrough", "custodian_report",
                                                 "communication_matrix"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_errors(path, notebook_case, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TRAWL_CASE", notebook_case)
    monkeypatch.setenv("TRAWL_REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    text = "".join(output.get("text", "") for output in outputs)
    assert f"case {CASE}:" in text
    if path.stem != "search_walkthrough":
        assert any("image/png" in output.get("data", {}) for output in outputs), \
            "the chart was not drawn"
