"""The Runs feature on a project with real runs of the tiny model: the table, the loss
overlay on the Compare tab, the settings diff, eval results with significance, and the
iterate loop from a run's failures to a new dataset version and the next run.

One module-scoped project: two real LoRA runs (a few steps each) on dataset v1, and the
base model and both runs evaluated on the same eval set. The iterate test (last) adds v2
and trains a third run on it from the Iterate tab.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from waiting import WORK_MS

from core.dataset.edits import conversations_as_examples
from core.dataset.model import Dataset, Example
from core.dataset.split import SplitConfig
from core.dataset.versions import list_versions, load_version, save_version
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig
from core.evaluation.models import baseline_spec, run_spec
from core.evaluation.runner import run_evaluation
from core.evaluation.store import save_eval_set
from core.handoff import DraftsForDataset, SettingsForTrain
from core.hardware import HardwareInfo
from core.history.compare import compare_runs
from core.history.config_text import diff_configs
from core.history.iterate import drafts_from_failures, iteration_timeline, next_run_config
from core.history.summaries import load_summaries, load_summary
from core.project import create_project
from core.recipe.config import TrainConfig
from core.runs.curves import loss_curves
from core.runs.record import load_run
from core.runs.records import METRICS_FILE, read_metrics_file
from core.training.session import run_training
from desktop.context import AppContext
from desktop.runs.page import TAB_COMPARE, TAB_ITERATE, RunsPage
from desktop.runs.runs_table import column

TEAMS = ["billing", "shipping", "login", "refund"]


def _conversation(i: int) -> list[dict]:
    return [
        {"role": "user", "content": f"Ticket {i}: which team handles it?"},
        {"role": "assistant", "content": f'{{"team": "{TEAMS[i % 4]}"}}'},
    ]


def _config(model_dir, version_id: int, **changes) -> TrainConfig:
    settings = {
        "base_model": str(model_dir),
        "dataset_version": str(version_id),
        "method": "lora",
        "max_steps": 4,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "learning_rate": 1e-2,
        "max_seq_length": 64,
        "packing": False,
        "warmup_ratio": 0.0,
        "eval_every_steps": 2,
        "checkpoint_every_steps": 100,
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "preflight": False,
    }
    settings.update(changes)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir):
    home = tmp_path_factory.mktemp("runs-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINETUNE_STUDIO_HOME", str(home))
        project = create_project(tmp_path_factory.mktemp("runs") / "project", name="Tickets")
        dataset = Dataset([Example.from_messages(_conversation(i)) for i in range(16)], "tickets")
        v1 = save_version(project, dataset, note="first examples", split=SplitConfig(0.25))
        first = run_training(project, _config(tiny_model_dir, v1.id, name="lr 1e-2"))
        second = run_training(
            project, _config(tiny_model_dir, v1.id, name="lr 5e-3 r8", learning_rate=5e-3, lora_r=8)
        )
        assert first.status == second.status == "finished", (first.reason, second.reason)
        eval_set = eval_set_from_examples(
            "tickets",
            "test",
            [
                {"messages": _conversation(100 + i), "checks": {"valid_json": True}}
                for i in range(6)
            ],
        )
        set_id = save_eval_set(project, eval_set)
        specs = [
            baseline_spec(tiny_model_dir, "Answer with JSON."),
            run_spec(first.folder, tiny_model_dir, label="lr 1e-2"),
            run_spec(second.folder, tiny_model_dir, label="lr 5e-3 r8"),
        ]
        run_evaluation(project, set_id, specs, GenerationConfig(max_new_tokens=6, batch_size=6))
        yield {"project": project, "v1": v1, "first": first, "second": second, "home": home}
        project.close()


@pytest.fixture
def page(qtbot, built, monkeypatch):
    monkeypatch.setenv("FINETUNE_STUDIO_HOME", str(built["home"]))
    widget = RunsPage(AppContext(built["project"], HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    widget.wait_for_background()


def test_table_shows_every_real_run_with_its_figures(page, built):
    first, second = built["first"], built["second"]
    model = page.runs_view.model
    assert model.rowCount() >= 2
    by_id = {model.summary_at(row).run_id: row for row in range(model.rowCount())}
    row = by_id[first.run_id]

    def cell(key):
        return model.data(model.index(row, column(key)))

    info = load_run(built["project"], first.run_id)
    assert cell("name") == "lr 1e-2" and cell("status") == "finished"
    assert cell("method") == "lora" and cell("dataset") == "tickets v1"
    assert "lr 0.01" in cell("settings") and "steps 4" in cell("settings")
    assert cell("best_val") == f"{info.best_val_loss:.4f}"
    assert cell("final_val") == f"{info.final_val_loss:.4f}"
    assert cell("hours").endswith("(CPU)")
    assert cell("peak") != "—"  # measured process memory on the CPU
    assert cell("eval").startswith("format 0%")  # a 4-step tiny model writes no JSON
    assert cell("cost") == "—"  # a CPU run, and no project price set
    # Sorting by best validation loss puts the lower one first.
    page.runs_view.table.sortByColumn(column("best_val"), Qt.SortOrder.AscendingOrder)
    proxy = page.runs_view.proxy
    losses = [
        model.summary_at(proxy.mapToSource(proxy.index(r, 0)).row()).best_val_loss
        for r in range(proxy.rowCount())
    ]
    assert losses == sorted(losses)
    # Filtering by a word of the name keeps only that run.
    page.runs_view.filter_edit.setText("r8")
    assert proxy.rowCount() == 1
    assert model.summary_at(proxy.mapToSource(proxy.index(0, 0)).row()).run_id == second.run_id


def test_config_diff_names_exactly_the_settings_that_differ(built):
    project = built["project"]
    a = load_summary(project, built["first"].run_id)
    b = load_summary(project, built["second"].run_id)
    diff = diff_configs([a.config_yaml, b.config_yaml], [a.name, b.name])
    assert {d.key: d.values for d in diff.differences} == {
        "learning_rate": ("0.01", "0.005"),
        "lora_r": ("4", "8"),
    }
    assert "-learning_rate: 0.01" in diff.unified and "+lora_r: 8" in diff.unified
    comparison = compare_runs(project, ["lr 1e-2", "lr 5e-3 r8"])  # by name
    assert comparison.datasets[0].same and comparison.datasets[0].summary == "the same examples"
    evals = comparison.evals
    assert evals.problem == "" and evals.columns[0].startswith("baseline")
    accuracy = next(row for row in evals.rows if row.key == "format_compliance")
    assert accuracy.values == (0.0, 0.0, 0.0)
    assert (
        accuracy.versus[0] is None and accuracy.versus[1].verdict == "not enough examples to tell"
    )


def test_overlay_draws_the_selected_runs_on_shared_axes_and_exports(page, built, qtbot, tmp_path):
    first, second = built["first"], built["second"]
    page.compare_runs([first.run_id, second.run_id])
    assert page.tabs.currentIndex() == TAB_COMPARE
    view = page.compare_view
    chart = view.chart
    assert set(chart.curves) == {
        (first.run_id, "train"),
        (first.run_id, "validation"),
        (second.run_id, "train"),
        (second.run_id, "validation"),
    }
    records = read_metrics_file(first.folder / METRICS_FILE)
    train = [r for r in records if r.kind == "train"]
    x, y = chart.curves[(first.run_id, "train")].getData()
    assert list(x) == [r.step for r in train] and list(y) == pytest.approx([r.loss for r in train])
    # The same runs by tokens seen: the x values are the records' token counts.
    view.axis_combo.setCurrentIndex(view.axis_combo.findData("tokens"))
    x, _ = chart.curves[(first.run_id, "train")].getData()
    assert list(x) == [r.tokens_seen for r in train]
    vx, _ = chart.curves[(first.run_id, "validation")].getData()
    assert set(vx) <= set(x)
    view.axis_combo.setCurrentIndex(view.axis_combo.findData("epoch"))
    x, _ = chart.curves[(second.run_id, "train")].getData()
    assert list(x) == pytest.approx(
        [c for c in loss_curves(second.folder / METRICS_FILE, "epoch").train.x]
    )
    view.valid_check.setChecked(False)
    assert {kind for _, kind in chart.curves} == {"train"}
    view.valid_check.setChecked(True)
    assert "learning_rate" in view.settings_text.toPlainText()
    qtbot.waitUntil(lambda: "p=" in view.evals_text.toPlainText(), timeout=WORK_MS)
    assert "baseline" in view.evals_text.toPlainText()
    assert "the same examples" in view.data_text.toPlainText()
    png, svg = chart.export_image(tmp_path / "loss.png"), chart.export_image(tmp_path / "loss.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"png or \.svg"):
        chart.export_image(tmp_path / "loss.jpg")


def test_iterate_loop_from_failures_to_a_new_version_and_the_next_run(page, built, qtbot):
    project, v1 = built["project"], built["v1"]
    steps = iteration_timeline(project)
    assert [s.title for s in steps] == ["Baseline", "v1"]
    assert steps[0].eval is not None and steps[1].version.id == v1.id
    best = steps[1].chosen
    assert best is not None and best.best_val_loss == min(
        s.best_val_loss for s in load_summaries(project)
    )
    assert steps[1].can_draft and not steps[1].can_train_next

    # From the Iterate tab: draft from the failures; the dataset editor gets a payload.
    page.tabs.setCurrentIndex(TAB_ITERATE)
    card = page.iterate_view.cards[1]
    assert not card.draft_button.isHidden() and card.train_button.isHidden()
    with qtbot.waitSignal(page.context.navigate_requested) as sent:
        card.draft_button.click()
    name, payload = sent.args
    assert name == "dataset" and isinstance(payload, DraftsForDataset)
    assert payload.base_version_id == v1.id and len(payload.drafts) == 6
    draft = payload.drafts[0]["messages"]
    assert draft[0]["content"].startswith("Ticket 10") and draft[-1]["role"] == "assistant"
    assert payload == drafts_from_failures(project, best.run_id).handoff()

    # The user saves the drafts as v2 in the dataset editor (done here with its core).
    base = load_version(project, v1.id).load_dataset()
    base.examples += conversations_as_examples(payload.drafts, tag="draft")
    v2 = save_version(project, base, note=payload.note, split=SplitConfig(0.25))
    assert [v.label for v in list_versions(project)] == ["v1", "v2"]
    config = next_run_config(project, best.run_id, v2.id)
    assert config.dataset_version == str(v2.id) and config.learning_rate == best_lr(best)

    # Train next, in one click. With a Train page the page hands it the run and settings...
    page.refresh()
    page.tabs.setCurrentIndex(TAB_ITERATE)
    card = page.iterate_view.cards[2]
    assert card.step.can_train_next and card.step.train_like.run_id == best.run_id
    with qtbot.waitSignal(page.context.navigate_requested) as sent:
        card.train_button.click()
    name, payload = sent.args
    assert name == "training" and isinstance(payload, SettingsForTrain)
    settings = payload.settings
    assert (payload.like_run_id, settings["dataset_version_id"]) == (best.run_id, v2.id)
    assert settings["dataset_version"] == str(v2.id) and settings["lora_r"] == best_r(best)
    # ...which trains the same next run the core plans (done here without the Train page).
    run_training(project, next_run_config(project, best.run_id, v2.id))
    steps = iteration_timeline(project)
    assert [s.title for s in steps] == ["Baseline", "v1", "v2"]
    third = steps[2].chosen
    assert third is not None and third.status == "finished", third and third.reason
    assert third.dataset_version_id == v2.id and third.name.endswith("tickets v2")
    changes = "\n".join(steps[2].changes)
    assert "data: 6 added, 0 removed, 0 changed, 16 unchanged" in changes
    assert "learning_rate" not in changes  # the same settings: only the data changed
    assert not steps[2].can_train_next


def best_lr(summary) -> float:
    return float(summary.settings["learning_rate"])


def best_r(summary) -> int:
    return int(summary.settings["lora_r"])
