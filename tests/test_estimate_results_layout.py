"""The Estimate results column at README size: 'How this was estimated' is read in full."""

from core.hardware.detect import HardwareInfo
from desktop.context import AppContext
from desktop.estimate.page import EstimatePage


def test_the_assumptions_take_the_spare_height_instead_of_scrolling_in_a_small_box(qtbot, project):
    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1100, 1400)  # the recipe form makes the page this tall at any window size
    page.show()
    view = page.results.assumptions_view
    qtbot.waitUntil(lambda: "Cost:" in view.toPlainText())
    qtbot.waitUntil(lambda: view.height() > 300)
    # Every line of the explanation shows: it scrolled inside a 230 px box above a blank
    # half of the column.
    assert view.verticalScrollBar().maximum() == 0
