"""`make bench` rewrites docs/benchmarks.md with its figures and keeps the
sections measured by their own scripts (after the KEPT_FROM line)."""
from __future__ import annotations

import pytest

from bench import report

FIGURES = "# Benchmarks\n\nthis run's figures\n"
POOL_SECTION = f"{report.KEPT_FROM}\n\n## Database pool: sessions per request\n\n| new sessions | 8 |\n"


@pytest.fixture
def doc(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "markdown", lambda r: FIGURES)
    return tmp_path / "benchmarks.md"


def test_make_bench_replaces_its_figures_and_keeps_the_sections_measured_by_hand(doc):
    doc.write_text("# Benchmarks\n\nthe last run's figures\n\n" + POOL_SECTION)
    assert report.write({}, doc) == doc
    assert doc.read_text() == FIGURES + "\n" + POOL_SECTION


def test_the_kept_sections_survive_a_second_run(doc):
    doc.write_text("# Benchmarks\n\nthe last run's figures\n\n" + POOL_SECTION)
    report.write({}, doc)
    report.write({}, doc)
    assert doc.read_text() == FIGURES + "\n" + POOL_SECTION


@pytest.mark.parametrize("before", [None, "# Benchmarks\n\nold figures, nothing measured by hand\n",
                                    f"a line that only mentions {report.KEPT_FROM} is no marker\n"])
def test_a_doc_without_the_marker_line_gets_the_figures_alone(doc, before):
    if before is not None:
        doc.write_text(before)
    report.write({}, doc)
    assert doc.read_text() == FIGURES
