"""docs/schema.md is the documented schema of every table; it must match fgraph/schema.py."""

from __future__ import annotations

from conftest import ROOT

from fgraph import schema


def test_schema_doc_is_current() -> None:
    doc = (ROOT / "docs" / "schema.md").read_text()
    assert doc == schema.markdown(), "regenerate: python -m fgraph.schema > docs/schema.md"


def test_every_column_documented() -> None:
    for cols in (schema.EVENT_COLUMNS, schema.CALL_COLUMNS, schema.LOST_COLUMNS):
        for c in cols:
            assert c.doc.strip(), c.name
