"""While a model loads (minutes on a CPU, no fraction to report) the Evaluate page's bar is
busy and says so in the bar itself (the walk saw 0 % for minutes, the text off-screen)."""

from __future__ import annotations

from test_evaluation_page_compare import _choose_base, eval_file, open_page  # noqa: F401
from waiting import WORK_MS

from core.models.registry import add_local_model


def test_the_bar_says_loading_while_a_model_loads(qtbot, project, tiny_model_dir, eval_file):  # noqa: F811
    add_local_model(project, tiny_model_dir, name="tiny")
    page, _ = open_page(qtbot, project)
    _choose_base(page, tiny_model_dir)
    assert page.eval_set_choice.use_file(eval_file) is None
    page.max_tokens_spin.setValue(4)
    seen = []

    def on_progress(_fraction, message):
        bar = page.progress
        seen.append((message, bar.minimum(), bar.maximum(), bar.format()))

    assert page.start_evaluation()
    page.task.progress.connect(on_progress)
    qtbot.waitUntil(lambda: not page.is_running(), timeout=WORK_MS)
    assert not page.last_error, page.last_error
    loading = [s for s in seen if s[0].startswith("Loading")]
    assert loading, seen
    assert all(s[2] == 0 and s[0] in s[3] for s in loading)  # busy, text in the bar
    answering = [s for s in seen if not s[0].startswith("Loading")]
    assert answering and all(s[2] == 1000 and s[0] in s[3] for s in answering)
