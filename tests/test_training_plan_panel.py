"""The Train page's plan box, driven in the real page: it shows the run plan before Start,
applies the data's defaults when data is chosen, follows every change of the settings,
and its warnings' buttons fix the settings."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from waiting import WORK_MS

from core.decide.demo import DEMO_ANSWERS
from core.decide.store import save_decision
from core.hardware import HardwareInfo
from core.models.registry import add_local_model
from core.training.run_plan import MIN_OPTIMIZER_STEPS
from desktop.context import AppContext
from desktop.training.page import TrainingPage


@pytest.fixture
def page(qtbot, project, tiny_model_dir):
    add_local_model(project, tiny_model_dir, name="tiny")
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 900)
    page.show()
    page.form.set_values({"base_model": "tiny"})
    yield page
    page.plan_panel.wait()


def write_examples(path, n):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Lunch with Maria on day {i} at noon."},
                {"role": "assistant", "content": f'{{"title": "Lunch", "day": {i}}}'},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def fix_button(panel, kind: str) -> QPushButton | None:
    """The shown fix button of one warning (None until Qt has shown it)."""
    shown = [b for b in panel.findChildren(QPushButton, f"planFix_{kind}") if b.isVisible()]
    return shown[0] if shown else None


def planned_steps(page) -> int | None:
    plan = page.plan_panel.data_plan
    return plan.plan.optimizer_steps if plan is not None else None


def test_choosing_40_examples_applies_the_data_defaults_and_shows_the_plan(qtbot, page, tmp_path):
    panel = page.plan_panel
    assert "Choose a dataset" in panel.summary.text()
    assert page.form.config().gradient_accumulation == 8  # the CPU preset
    page.form.set_values({"train_file": str(write_examples(tmp_path / "train.jsonl", 40))})
    qtbot.waitUntil(lambda: (planned_steps(page) or 0) >= MIN_OPTIMIZER_STEPS, timeout=WORK_MS)
    config = page.form.config()
    assert config.gradient_accumulation < 8  # lowered first, as the reasons say
    assert "Set from the data" in panel.reasons.text() and panel.reasons.isVisible()
    text = panel.summary.text()
    assert f"{planned_steps(page)} optimizer steps" in text
    assert "tokens per optimizer step" in text and "first step at" in text
    assert panel.advice == []  # enough steps: nothing to warn about

    # The plan follows the settings: twice the epochs, twice the steps.
    steps = planned_steps(page)
    page.form.set_values({"epochs": config.epochs * 2})
    qtbot.waitUntil(lambda: planned_steps(page) == 2 * steps, timeout=WORK_MS)
    assert f"{2 * steps} optimizer steps" in panel.summary.text()


def test_too_few_steps_warns_before_start_and_its_button_fixes_it(qtbot, page, tmp_path):
    panel = page.plan_panel
    page.form.set_values({"train_file": str(write_examples(tmp_path / "train.jsonl", 40))})
    qtbot.waitUntil(lambda: (planned_steps(page) or 0) >= MIN_OPTIMIZER_STEPS, timeout=WORK_MS)
    # Back to the walk's settings: accumulation 8, packing, 3 epochs.
    page.form.set_values({"gradient_accumulation": 8, "packing": True, "epochs": 3.0})
    qtbot.waitUntil(lambda: [a.kind for a in panel.advice] == ["too_few_steps"], timeout=WORK_MS)
    assert planned_steps(page) < MIN_OPTIMIZER_STEPS
    qtbot.waitUntil(lambda: fix_button(panel, "too_few_steps") is not None, timeout=WORK_MS)
    assert "Use the data's defaults" in fix_button(panel, "too_few_steps").text()
    qtbot.mouseClick(fix_button(panel, "too_few_steps"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (planned_steps(page) or 0) >= MIN_OPTIMIZER_STEPS, timeout=WORK_MS)
    qtbot.waitUntil(lambda: panel.advice == [], timeout=WORK_MS)


def test_a_goal_needing_more_examples_warns_and_opens_the_dataset_page(qtbot, page, tmp_path):
    save_decision(page.context.project, DEMO_ANSWERS)  # a format change: 50-200 examples
    asked = []
    page.context.navigate_requested.connect(lambda name, _h: asked.append(name))
    page.form.set_values({"train_file": str(write_examples(tmp_path / "train.jsonl", 10))})
    panel = page.plan_panel
    qtbot.waitUntil(lambda: "too_few_examples" in [a.kind for a in panel.advice], timeout=WORK_MS)
    (warning,) = [a for a in panel.advice if a.kind == "too_few_examples"]
    assert "has 9." in warning.message and "50-200" in warning.message  # 1 held out
    qtbot.waitUntil(lambda: fix_button(panel, "too_few_examples") is not None, timeout=WORK_MS)
    qtbot.mouseClick(fix_button(panel, "too_few_examples"), Qt.MouseButton.LeftButton)
    assert asked == ["dataset"]
