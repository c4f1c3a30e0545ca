"""The Project page lists the same base models as the pickers: the Hugging Face cache too
(the walk picked a cached model in the Train page that the Project page did not list)."""

from __future__ import annotations

import shutil

from core.hardware import HardwareInfo
from core.models.inventory import available_models
from desktop.context import AppContext
from desktop.project.page import ProjectPage


def test_cached_hub_models_are_listed_like_in_the_pickers(
    qtbot, project, tiny_model_dir, tmp_path, monkeypatch
):
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    repo = cache / "models--acme--tiny-chat"
    snapshot = repo / "snapshots" / ("b" * 40)
    shutil.copytree(tiny_model_dir, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    picker_names = {e.model.name for e in available_models(project)}
    assert "acme/tiny-chat" in picker_names

    page = ProjectPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    listed = [page.models_list.item(i).text() for i in range(page.models_list.count())]
    for name in picker_names:
        assert any(text.startswith(name) for text in listed), (name, listed)
    assert "acme/tiny-chat  (Hugging Face cache)" in listed
