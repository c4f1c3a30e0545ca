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


def test_at_the_smallest_window_the_results_fit_without_sideways_scrolling(qtbot, project):
    from desktop.estimate.memory_bar import BAR_HEIGHT, LEGEND_ROW, TOP
    from desktop.main_window import MainWindow

    window = MainWindow(
        AppContext(project, HardwareInfo(cpu_cores=2)), first_page="estimate", remember=False
    )
    qtbot.addWidget(window)
    window.resize(window.minimumSize())  # 960x620
    window.show()
    page = window.page("estimate")
    results = page.results
    qtbot.waitUntil(lambda: results.pick_title.text().startswith("QLoRA"))
    qtbot.waitUntil(lambda: page.viewport().width() < 800)
    # Beside its two buttons the title was one word per line, and the page scrolled
    # sideways by the width the buttons took.
    assert page.widget().minimumSizeHint().width() <= page.viewport().width()
    qtbot.waitUntil(lambda: page.horizontalScrollBar().maximum() == 0)
    qtbot.waitUntil(lambda: results.pick_title.width() > results.width() - 10)
    assert results.train_button.y() > results.pick_title.y()
    # Every part of the memory bar's legend is drawn inside it (three rows cut the last):
    # entries wrap as the bar draws them, a swatch, the text and a gap each.
    bar = results.bar
    metrics = bar.fontMetrics()
    x, rows = 1.0, 1
    for segment in bar.segments():
        entry = 14 + metrics.horizontalAdvance(f"{segment.title} {segment.gib:.1f}") + 18
        if x + entry > bar.width() - 2 and x > 1:
            x, rows = 1.0, rows + 1
        x += entry
    assert rows > 3  # more rows than the three there were room for
    qtbot.waitUntil(lambda: bar.height() >= TOP + BAR_HEIGHT + 10 + rows * LEGEND_ROW)


def test_a_wide_column_keeps_the_buttons_beside_the_title(qtbot, project):
    page = EstimatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1100, 900)
    page.show()
    results = page.results
    qtbot.waitUntil(lambda: results.pick_title.text().startswith("QLoRA"))
    assert results.train_button.y() < results.pick_title.y() + results.pick_title.height()
    assert results.train_button.x() > results.pick_title.x() + results.pick_title.width() - 5


def _method_texts_fit(table) -> bool:
    """Every method's name shows whole in the table's first column (bold for the pick)."""
    from PySide6.QtGui import QFontMetrics

    width = table.horizontalHeader().sectionSize(0)
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        needed = QFontMetrics(item.font()).horizontalAdvance(item.text()) + 12
        if needed > width:
            return False
    return True


def test_at_960_by_620_the_settings_give_way_so_the_method_names_show_whole(qtbot, project):
    from desktop.main_window import MainWindow

    window = MainWindow(
        AppContext(project, HardwareInfo(cpu_cores=2)), first_page="estimate", remember=False
    )
    qtbot.addWidget(window)
    window.resize(960, 620)
    window.show()
    page = window.page("estimate")
    table = page.results.methods_table
    qtbot.waitUntil(lambda: page.results.pick_title.text().startswith("QLoRA"))
    qtbot.waitUntil(lambda: page.viewport().width() < 800)
    # The settings stayed 400 px wide and the table showed "Full fine…" and "QL… (4-…".
    qtbot.waitUntil(lambda: _method_texts_fit(table))
    assert page.form.width() < 400
    assert page.horizontalScrollBar().maximum() == 0
    # At 1280 x 800 the settings take their full width again and the table is wider still.
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: page.form.width() >= 400)
    assert page.results.width() > page.form.width()
    assert _method_texts_fit(table)
