"""Counts read in the right number ('1 run', not '1 runs') and a CPU run's hours are not
called GPU hours (both seen on a real walk)."""

from __future__ import annotations

from test_runs_page import add_run, open_page

from core.dataset.edits import remove_duplicates, set_system_prompt
from core.dataset.fix_plan import FixPlan
from core.dataset.model import Dataset, Example
from core.dataset.validation.report import ValidationReport
from core.figures import count_text
from core.history.spend import spend_summary

CPU = "CPU (8 threads), fp32"


def test_count_text():
    assert count_text(1, "run") == "1 run"
    assert count_text(0, "run") == "0 runs"
    assert count_text(1200, "example") == "1,200 examples"
    assert count_text(2, "checkpoint", "checkpoints kept") == "2 checkpoints kept"


def test_one_cpu_run_reads_one_run_and_cpu_hours(qtbot, project):
    add_run(project, "r1", device=CPU, memory_kind="cpu-rss", duration_s=3600.0)
    assert spend_summary(project).hours_label == "CPU hours"
    page = open_page(qtbot, project)
    text = page.spend_label.text()
    assert text.startswith("1 run · 1.00 CPU hours"), text
    assert "GPU" not in text
    assert "<b>1 run</b>, <b>1.00</b> CPU hours" in page.spend_view.totals.text()
    page.wait_for_background()


def test_cpu_and_gpu_runs_read_compute_hours(qtbot, project):
    add_run(project, "r1", device=CPU, memory_kind="cpu-rss")
    add_run(project, "r2")  # the H100 of add_run
    assert spend_summary(project).hours_label == "compute hours"
    page = open_page(qtbot, project)
    assert page.spend_label.text().startswith("2 runs · ")
    assert "compute hours" in page.spend_label.text()
    page.wait_for_background()


def test_one_fixed_example_reads_one_example():
    # It said "Fixed 1 example(s)."
    assert FixPlan(edit=None, fixed=1, removed=0).summary() == "Fixed 1 example."
    both = FixPlan(edit=None, fixed=3, removed=1).summary()
    assert both.startswith("Fixed 3 examples and deleted 1 duplicate (exact copies")


def test_a_one_example_report_reads_one_example():
    # It said "0 errors, 0 warnings, 0 notes in 1 examples".
    assert ValidationReport([], 1).summary() == "0 errors, 0 warnings, 0 notes in 1 example"


def test_bulk_edit_messages_read_in_the_right_number():
    # They said "Set the system prompt in 2 example(s)." and "Deleted 1 exact duplicate(s)".
    record = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    dataset = Dataset(examples=[Example(dict(record)), Example(dict(record))])
    assert remove_duplicates(dataset).summary.startswith("Deleted 1 exact duplicate;")
    assert set_system_prompt(dataset, "Be brief.").summary == "Set the system prompt in 2 examples."
