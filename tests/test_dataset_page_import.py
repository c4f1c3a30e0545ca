"""Import with preview and column mapping, export, statistics, and the list at 100,000 rows."""

from __future__ import annotations

import csv
import json

import pytest

from core.dataset.example_filter import ExampleFilter, FilterRun
from core.dataset.jsonl import parse_jsonl_bytes
from core.dataset.model import Dataset
from core.dataset.versions import save_version
from core.hardware import detect_hardware
from desktop.context import AppContext
from desktop.dataset.editor import DatasetEditor
from desktop.dataset.examples_model import COL_CONVERSATION, ExamplesTableModel
from desktop.dataset.export_dialog import export_examples
from desktop.dataset.import_dialog import ImportDialog
from desktop.dataset.page import DatasetPage


@pytest.fixture
def page(qtbot, project):
    dataset = Dataset.from_conversations(
        [
            [
                {"role": "user", "content": f"Question {i} " + "word " * (i * 40)},
                {"role": "assistant", "content": "Answer"},
            ]
            for i in range(10)
        ],
        name="qa",
    )
    save_version(project, dataset, note="first")
    page = DatasetPage(AppContext(project, detect_hardware(use_torch=False)))
    qtbot.addWidget(page)
    with qtbot.waitExposed(page):
        page.show()
    page.editor.wait_for_checks()
    yield page
    page.can_close()


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "tickets.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["persona", "ticket_text", "ideal_reply"])
        writer.writerow(["Support bot", "My card was charged twice", '{"intent": "double_charge"}'])
        writer.writerow(["Support bot", "Where is my parcel?", '{"intent": "where_is_order"}'])
        writer.writerow(["Support bot", "Cancel my order", '{"intent": "cancel"}'])
    return path


def test_csv_import_previews_with_the_column_mapping_the_user_picks(qtbot, page, table_file):
    dialog = ImportDialog(page, can_append=True, path=str(table_file))
    qtbot.addWidget(dialog)
    dialog.wait()
    assert dialog.mapping_box.isVisibleTo(dialog)
    columns = [dialog.prompt_column.itemText(i) for i in range(dialog.prompt_column.count())]
    assert columns == ["persona", "ticket_text", "ideal_reply"]
    # The names say nothing; the first guess is the varied column and the last one.
    assert dialog.prompt_column.currentData() == "ticket_text"
    assert dialog.response_column.currentData() == "ideal_reply"
    assert dialog.system_column.currentData() is None
    dialog.system_column.setCurrentIndex(dialog.system_column.findData("persona"))
    dialog.wait()
    assert dialog.dataset is not None and len(dialog.dataset) == 3
    assert dialog.preview.rowCount() == 3
    assert [dialog.preview.item(0, c).text() for c in range(3)] == [
        "Support bot",
        "My card was charged twice",
        '{"intent": "double_charge"}',
    ]
    assert "3 examples read" in dialog.summary.text()
    assert dialog.append_radio.isChecked()
    page.opening.take_import(dialog.dataset, append=True)
    assert len(page.editor.dataset) == 13 and page.editor.stack.count() == 1
    page.editor.stack.undo()
    assert len(page.editor.dataset) == 10
    page.opening.take_import(dialog.dataset, append=False)
    assert page.editor.dataset.name == "tickets" and page.editor.base_version is None
    assert "not saved as a version yet" in page.header.state_label.text()


def test_same_prompt_and_response_column_is_explained_not_imported(qtbot, page, table_file):
    dialog = ImportDialog(page, path=str(table_file))
    qtbot.addWidget(dialog)
    dialog.wait()
    dialog.response_column.setCurrentIndex(dialog.prompt_column.currentIndex())
    dialog.wait()
    assert dialog.dataset is None and "different columns" in dialog.summary.text()


def test_an_unreadable_file_is_explained_in_the_dialog(qtbot, page, tmp_path):
    path = tmp_path / "nothing.parquet"
    path.write_bytes(b"PAR1 not really")
    dialog = ImportDialog(page, path=str(path))
    qtbot.addWidget(dialog)
    dialog.wait()
    assert dialog.dataset is None and "cannot be read" in dialog.summary.text()
    assert not dialog.buttons.buttons()[0].isEnabled()


def test_a_binary_file_is_refused_in_the_dialog_not_imported_as_examples(qtbot, page, tmp_path):
    import os

    path = tmp_path / "holiday.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000) + b"\n" * 18)
    dialog = ImportDialog(page, path=str(path))
    qtbot.addWidget(dialog)
    dialog.wait()
    assert dialog.dataset is None and "not a text file" in dialog.summary.text()
    assert "PNG" in dialog.summary.text()
    assert not dialog.buttons.buttons()[0].isEnabled()
    if os.environ.get("FINETUNE_STUDIO_SCREENSHOTS"):
        dialog.show()
        dialog.grab().save(os.environ["FINETUNE_STUDIO_SCREENSHOTS"] + "/import-binary.png")


def test_export_writes_jsonl_and_tables(page, tmp_path):
    dataset = page.editor.dataset
    text = export_examples(
        dataset, str(tmp_path / "out.jsonl"), "jsonl", studio_fields=False, allow_loss=False
    )
    assert "Exported 10 examples" in text
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert list(first) == ["messages"]
    export_examples(
        dataset, str(tmp_path / "out.csv"), "csv", studio_fields=False, allow_loss=False
    )
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and rows[0]["response"] == "Answer"


def test_statistics_show_the_histogram_and_what_max_seq_length_cuts(qtbot, page):
    stats = page.stats_panel
    page.tabs.setCurrentIndex(2)
    stats.wait()
    assert stats.stats is not None and len(stats.stats["tokens"]) == 10
    x, height = stats.bars.opts["x"], stats.bars.opts["height"]
    assert len(x) > 0 and sum(height) == 10
    assert stats.labels["over"].text() == "none ✓"
    stats.max_len_box.setValue(100)
    assert stats.max_line.value() == 100
    over, lost = stats.over_limit()
    lengths = stats.stats["tokens"]
    assert over == int((lengths > 100).sum()) > 0 and lost == int(
        (lengths[lengths > 100] - 100).sum()
    )
    assert "examples lose" in stats.labels["over"].text()
    assert "estimated" in stats.labels["tokens"].text()


def test_the_list_stays_responsive_with_100k_examples(qtbot):
    """Gross limits only: filtering works in slices and a screen of rows renders fast."""
    line = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Where is order {}? " + "detail " * 20},
                {"role": "assistant", "content": '{"intent": "where_is_order"}'},
            ]
        }
    )
    data = "\n".join(line.replace("{}", str(i)) for i in range(100_000)).encode()
    examples, findings = parse_jsonl_bytes(data)
    assert not findings
    editor = DatasetEditor()
    editor.open(Dataset(examples, name="big"))
    editor.cancel_checks()  # the whole-dataset checks have their own benchmark
    model = ExamplesTableModel(editor)
    # Timings belong to benchmarks/dataset_page_filter.py; here every place must answer.
    for row in range(0, 100_000, 2_500):  # scrolling: a screenful of rows at 40 places
        for r in range(row, row + 30):
            assert f"order {r}?" in str(model.data(model.index(r, 2)))
    run = FilterRun(examples, ExampleFilter(text="order 99999?"), editor.worst_severity)
    slices = 1
    while not run.step(0.03):
        slices += 1
    assert run.matches == [99_999]
    assert slices > 1  # it worked in slices, handing the GUI back between them
    model.set_filter(ExampleFilter(text="order 4242?"))
    model.finish_filtering()
    assert model.rowCount() == 1 and model.data(model.index(0, COL_CONVERSATION)).startswith(
        "Where is order 4242?"
    )


def test_with_a_tokenizer_chosen_the_checks_name_the_examples_max_seq_length_cuts(
    qtbot, page, tiny_model_dir
):
    stats = page.stats_panel
    stats.tokenizer_box.addItem("tiny tokenizer", str(tiny_model_dir))
    stats.max_len_box.setValue(64)
    stats.tokenizer_box.setCurrentIndex(stats.tokenizer_box.count() - 1)
    stats.wait()
    assert stats.stats["counted_with"] and "estimated" not in stats.labels["tokens"].text()
    page.editor.wait_for_checks()
    too_long = [f for f, _e in page.editor.all_findings() if f.code == "too_long"]
    over, _lost = stats.over_limit()
    assert len(too_long) == over > 0
    assert page.editor.validation_options.max_seq_length == 64
