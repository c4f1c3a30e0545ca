"""The model picker, driven as a user would: the list, a download with progress, Cancel,
a gated model's error, and the Train and Estimate pages taking the picked model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fake_hub import COMMIT, FakeHub, FakeRepo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from waiting import WORK_MS

from desktop.models.picker import ModelPickerDialog
from desktop.theme import BAD, status_style

SHOTS = (
    Path(os.environ.get("MODELS_PICKER_SHOTS", ""))
    if os.environ.get("MODELS_PICKER_SHOTS")
    else None
)


def shoot(widget, name: str) -> None:
    """Screenshots for a person to look at, when MODELS_PICKER_SHOTS names a folder."""
    if SHOTS is not None:
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()  # let the layout take in the latest status text
        SHOTS.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(SHOTS / f"{name}.png"))


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    tiny = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, tiny)
    (tiny / "README.md").write_text("---\nlicense: apache-2.0\n---\n", encoding="utf-8")
    server = FakeHub(
        {"acme/tiny": FakeRepo(tiny), "acme/gated": FakeRepo(tiny, gated_token="hf_x")}
    ).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setattr("core.models.hub_token._keyring", lambda: None)
    yield server
    server.stop()


def rows(dialog) -> list[list[str]]:
    model = dialog.table_model
    return [
        [model.index(r, c).data() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def download(qtbot, dialog, hub_id: str, timeout: int = 60_000) -> None:
    qtbot.keyClicks(dialog.hub_id_edit, hub_id)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert dialog.task is not None
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=timeout)


def test_empty_cache_shows_the_bundled_model_and_says_how_to_get_more(qtbot, hub):
    dialog = ModelPickerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert [row[:2] for row in rows(dialog)] == [["SmolLM2-135M-Instruct", "bundled"]]
    assert "No models in the Hugging Face cache yet" in dialog.cache_note.text()
    assert not dialog.progress.isVisible() and not dialog.cancel_button.isVisible()
    shoot(dialog, "picker-empty-cache")


def test_download_lists_the_model_and_use_returns_it(qtbot, hub):
    dialog = ModelPickerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    download(qtbot, dialog, "acme/tiny")
    qtbot.waitUntil(lambda: "Downloaded acme/tiny" in dialog.status.text())
    tiny = next(row for row in rows(dialog) if row[0] == "acme/tiny")
    assert tiny[1:] == [
        "Hugging Face cache",
        tiny[2],
        "LlamaForCausalLM",
        "apache-2.0",
        "safetensors",
    ]
    assert tiny[2].endswith("KB")
    assert dialog.selected_model().name == "acme/tiny"
    assert not dialog.progress.isVisible()
    shoot(dialog, "picker-a-few-models")
    with qtbot.waitSignal(dialog.chosen) as chosen:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert (chosen.args[0].hub_id, chosen.args[0].revision) == ("acme/tiny", COMMIT)


def test_cancel_in_the_middle_keeps_the_partial_download(qtbot, hub):
    hub.bytes_per_second = 100_000
    dialog = ModelPickerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.hub_id_edit, "acme/tiny")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.value() > 200, timeout=WORK_MS)
    assert dialog.cancel_button.isVisible() and not dialog.download_button.isEnabled()
    assert "model.safetensors" in dialog.status.text()
    shoot(dialog, "picker-downloading")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=WORK_MS)
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text())
    assert "continues from there" in dialog.status.text()
    assert dialog.download_button.isEnabled() and not dialog.progress.isVisible()
    assert "acme/tiny" not in [row[0] for row in rows(dialog)]


def test_a_gated_model_shows_what_to_do_and_the_token_gets_it(qtbot, hub, monkeypatch):
    dialog = ModelPickerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    download(qtbot, dialog, "acme/gated")
    qtbot.waitUntil(lambda: "is gated" in dialog.status.text())
    assert "token" in dialog.status.text()
    assert dialog.status.styleSheet() == status_style(BAD)  # shown as an error
    shoot(dialog, "picker-gated-error")

    monkeypatch.setattr(
        "desktop.models.picker.QInputDialog.getText", lambda *args, **kwargs: ("hf_x", True)
    )
    qtbot.mouseClick(dialog.token_button, Qt.MouseButton.LeftButton)
    assert "kept for this session only" in dialog.status.text()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=WORK_MS)
    qtbot.waitUntil(lambda: "Downloaded acme/gated" in dialog.status.text())
    from core.models.hub_token import forget_session_token

    forget_session_token()


def test_a_bad_id_is_refused_without_starting_anything(qtbot, hub):
    dialog = ModelPickerDialog()
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.hub_id_edit, "not an id")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert dialog.task is None and "org/name" in dialog.status.text()
    assert hub.requests == []


def test_the_estimate_page_takes_a_cached_model_from_the_picker(qtbot, hub, project):
    from core.hardware.detect import HardwareInfo
    from core.models.download import download_model
    from desktop.context import AppContext
    from desktop.estimate.page import EstimatePage

    download_model("acme/tiny")
    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    button = page.findChild(QPushButton, "browse_models")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = button.picker_dialog
    names = [row[0] for row in rows(dialog)]
    dialog.table.selectRow(names.index("acme/tiny"))
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert page.form.model_combo.currentText() == "acme/tiny (Hugging Face cache)"
    assert page.current_model().name == "acme/tiny"


def test_the_train_page_takes_a_downloaded_model_from_the_picker(qtbot, hub, project):
    from core.hardware.detect import HardwareInfo
    from core.models.registry import resolve_model
    from desktop.context import AppContext
    from desktop.training.page import TrainingPage

    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    button = page.findChild(QPushButton, "browse_models")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = button.picker_dialog
    download(qtbot, dialog, "acme/tiny")  # downloaded from inside the Train page's picker
    qtbot.waitUntil(lambda: "Downloaded acme/tiny" in dialog.status.text())
    assert dialog.selected_model().name == "acme/tiny"
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    editor = page.form.editors["base_model"]
    assert editor.get() == "acme/tiny"
    assert editor.editor.currentText() == "acme/tiny (Hugging Face cache)"
    base = resolve_model(editor.get(), project)  # what the run resolves and records
    assert (base.hub_id, base.revision) == ("acme/tiny", COMMIT)


def test_the_estimate_page_fetches_only_a_config_or_uses_the_catalog(qtbot, hub, project, tmp_path):
    from core.hardware.detect import HardwareInfo
    from desktop.context import AppContext
    from desktop.estimate.page import EstimatePage

    big = tmp_path / "big"
    big.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
    }
    (big / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (big / "model.safetensors").write_bytes(b"\0" * 300_000)  # never fetched
    hub.repos["acme/big"] = FakeRepo(big)
    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    button = page.findChild(QPushButton, "browse_models")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = button.picker_dialog
    assert dialog.config_button.isVisible()
    qtbot.keyClicks(dialog.hub_id_edit, "acme/big")
    with qtbot.waitSignal(dialog.chosen, timeout=WORK_MS):
        qtbot.mouseClick(dialog.config_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_downloading())
    assert page.form.model_combo.currentText() == "acme/big (config only)"
    assert page.current_model().name == "acme/big"
    assert page.current_model().hidden_size == 2048
    fetched = [p for m, p, r in hub.requests if m == "GET" and "/resolve/" in p]
    assert fetched == [f"/acme/big/resolve/{COMMIT}/config.json"]

    hub.requests.clear()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = button.picker_dialog
    qtbot.keyClicks(dialog.hub_id_edit, "meta-llama/Llama-3.1-8B")
    qtbot.mouseClick(dialog.config_button, Qt.MouseButton.LeftButton)
    assert page.form.model_combo.currentData() == "catalog:Llama-3.1-8B"
    assert hub.requests == []  # the catalog knew it: no network at all


def test_a_token_entered_once_goes_to_the_os_keyring(monkeypatch):
    """The keyring is the OS boundary: a stand-in module records what would be stored."""
    import sys
    import types

    from core.models import hub_token

    stored = {}
    fake = types.ModuleType("keyring")
    fake.set_password = lambda service, user, secret: stored.__setitem__((service, user), secret)
    fake.get_password = lambda service, user: stored.get((service, user))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert hub_token.save_token(" hf_abc \n") == "saved in the OS keyring"
    assert stored == {(hub_token.KEYRING_SERVICE, hub_token.KEYRING_USER): "hf_abc"}
    assert hub_token.find_token() == "hf_abc"
    with pytest.raises(ValueError, match="empty"):
        hub_token.save_token("  ")


def test_a_folder_is_added_to_the_project_and_pickle_needs_a_yes(
    qtbot, hub, project, tiny_model_dir, tmp_path
):
    dialog = ModelPickerDialog(project)
    qtbot.addWidget(dialog)
    assert dialog.add_folder_button.isEnabled()
    assert dialog.add_folder(str(tiny_model_dir), confirm=lambda *_: False)
    row = next(r for r in rows(dialog) if r[0] == tiny_model_dir.name)
    assert row[1] == "project folder" and dialog.selected_model().name == tiny_model_dir.name

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    asked = []
    assert not dialog.add_folder(str(pickled), confirm=lambda t, _: asked.append(t) or False)
    assert asked == ["Load pickle weights?"] and "pickle" in dialog.status.text()
    assert "pickled" not in [r[0] for r in rows(dialog)]
    assert dialog.add_folder(str(pickled), confirm=lambda *_: True)
    row = next(r for r in rows(dialog) if r[0] == "pickled")
    assert row[5] == "pickle .bin (can run code)"
    without_project = ModelPickerDialog()
    qtbot.addWidget(without_project)
    assert not without_project.add_folder_button.isEnabled()
