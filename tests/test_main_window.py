"""The main window: navigation, status bar, project switching, menus."""

import pytest
from PySide6.QtCore import Qt

from core.project import create_project
from desktop.app import build_main_window


@pytest.fixture
def window(qtbot):
    win = build_main_window()
    qtbot.addWidget(win)
    win.show()
    return win


def test_status_bar_shows_hardware_and_the_demo_project(window):
    assert window.context.project.name == "Demo project"
    assert "Demo project" in window.project_label.text()
    assert window.hardware_label.text() == window.context.hardware.summary()


def test_navigation_lists_only_landed_pages_and_builds_them_lazily(window, qtbot):
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles[0] == "Project"
    assert set(window._pages) == {"project"}
    page = window.show_page("project")
    assert page.title.text() == "Demo project"


def test_the_navigation_is_the_feature_list_and_every_page_is_a_page(window):
    from core.features import WORKFLOW

    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    names = {spec.name for spec in window._specs}
    assert titles == [feature.title for feature in WORKFLOW if feature.name in names]
    assert titles == [
        "Project",
        "Decide",
        "Estimate",
        "Dataset",
        "Train",
        "Evaluate",
        "Chat",
        "Runs",
    ]
    for spec in window._specs:
        page = window.page(spec.name)
        for method in ("set_project", "can_close", "receive"):
            assert callable(getattr(page, method, None)), (spec.name, method)
        page.receive(object())  # a hand-off the page does not take is left alone
        assert page.can_close(), spec.name


def test_opening_another_project_updates_every_listener(window, tmp_path, qtbot):
    other = create_project(tmp_path / "other", name="Legal drafts")
    with qtbot.waitSignal(window.context.project_changed):
        assert window.open_project_folder(other.folder)
    assert "Legal drafts" in window.project_label.text()
    assert window.show_page("project").title.text() == "Legal drafts"


def test_add_local_model_folder_asks_before_allowing_pickle(window, tmp_path, tiny_model_dir):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    page = window.show_page("project")
    asked = []
    problem = page.add_model_folder(str(folder), confirm=lambda t, x: asked.append(t) or False)
    assert asked == ["Load pickle weights?"]
    assert "pickle" in problem
    assert page.add_model_folder(str(tiny_model_dir), confirm=lambda t, x: False) is None
    items = [page.models_list.item(i).text() for i in range(page.models_list.count())]
    assert any(str(tiny_model_dir) in item for item in items)


def test_ctrl_number_shortcut_switches_page(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.nav.currentRow() == 0
