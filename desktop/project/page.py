"""The Project page: the open project, this machine, the base models, and where to go next."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.models.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model
from core.models.registry import (
    ModelFolderError,
    list_base_models,
)
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.models.trust_prompts import add_model_folder, ask_with_dialog
from desktop.pages import available_pages


def create_page(context: AppContext) -> QWidget:
    return ProjectPage(context)


class ProjectPage(QScrollArea):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self._task: BackgroundTask | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(28, 22, 28, 22)
        layout.setSpacing(16)

        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        self.title.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.subtitle = QLabel()
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)

        layout.addWidget(self._machine_box())
        layout.addWidget(self._models_box())
        layout.addWidget(self._next_steps_box())
        layout.addStretch(1)
        self.setWidget(body)

        context.project_changed.connect(self.set_project)
        self.refresh()

    # Sections ----------------------------------------------------------------
    def _machine_box(self) -> QGroupBox:
        box = QGroupBox("This machine")
        form = QFormLayout(box)
        hardware = self.context.hardware
        if hardware.gpus:
            for gpu in hardware.gpus:
                capability = ".".join(map(str, gpu.compute_capability or ())) or "unknown"
                form.addRow(
                    f"GPU {gpu.index}",
                    QLabel(
                        f"{gpu.name} — {gpu.total_gib:.1f} GiB, compute {capability}, "
                        f"bf16 {'yes' if gpu.supports_bf16 else 'no'}"
                    ),
                )
        else:
            note = QLabel(
                "No CUDA GPU was found. Everything works on the CPU, but training is slow: "
                "use the bundled 135M model or a small one, or estimate for a GPU you can rent."
            )
            note.setWordWrap(True)
            form.addRow("GPU", note)
        if hardware.mps:
            form.addRow("Apple GPU", QLabel("Metal (MPS) is available"))
        form.addRow(
            "CPU", QLabel(f"{hardware.cpu_cores} cores, {hardware.ram_bytes / 1024**3:.0f} GiB RAM")
        )
        form.addRow("Trains on", QLabel(hardware.best_device.upper()))
        return box

    def _models_box(self) -> QGroupBox:
        box = QGroupBox("Base models")
        layout = QVBoxLayout(box)
        self.models_list = QListWidget()
        self.models_list.setMaximumHeight(130)
        layout.addWidget(self.models_list)
        buttons = QHBoxLayout()
        self.prepare_button = QPushButton(f"Prepare {BUNDLED_MODEL_NAME}")
        self.prepare_button.setToolTip(
            "Convert the bundled GGUF model once into an ordinary Hugging Face folder (about 20 s of CPU work)"
        )
        self.prepare_button.clicked.connect(self.prepare_bundled_model)
        add_button = QPushButton("Add local model folder…")
        add_button.setToolTip("A Hugging Face folder with config.json, safetensors and a tokenizer")
        add_button.clicked.connect(self.add_model_dialog)
        buttons.addWidget(self.prepare_button)
        buttons.addWidget(add_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.hide()
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        return box

    def _next_steps_box(self) -> QGroupBox:
        box = QGroupBox("Next steps")
        layout = QHBoxLayout(box)
        for spec in available_pages():
            if spec.name == "project":
                continue
            button = QPushButton(spec.title)
            button.setToolTip(spec.tooltip)
            button.clicked.connect(lambda _=False, name=spec.name: self.context.navigate(name))
            layout.addWidget(button)
        if layout.count() == 0:
            layout.addWidget(QLabel("More pages arrive as the features land."))
        layout.addStretch(1)
        return box

    # Behaviour -----------------------------------------------------------------
    def set_project(self, _project) -> None:
        self.refresh()

    def refresh(self) -> None:
        project = self.context.project
        self.title.setText(project.name)
        created = project.get_meta("created_at", "")
        self.subtitle.setText(
            f"{project.folder}" + (f"   ·   created {created[:10]}" if created else "")
        )
        self.models_list.clear()
        bundled_ready = True
        # The same list the model pickers show: the Hugging Face cache included.
        for model in list_base_models(project, hub_cache=True):
            if model.source == "bundled":
                bundled_ready = model.path is not None
                state = "ready" if bundled_ready else "not prepared yet"
                self.models_list.addItem(f"{model.name}  (bundled default, {state})")
            elif model.source == "hub":
                self.models_list.addItem(f"{model.name}  (Hugging Face cache)")
            else:
                flags = " · remote code allowed" if model.trust_remote_code else ""
                self.models_list.addItem(f"{model.name}  ({model.path}{flags})")
        self.prepare_button.setEnabled(not bundled_ready and self._task is None)

    def prepare_bundled_model(self) -> None:
        self.prepare_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.progress_label.show()
        self._task = BackgroundTask(lambda report, cancelled: ensure_bundled_model(report), self)
        self._task.progress.connect(self._on_progress)
        self._task.succeeded.connect(lambda _path: self.context.show_status("Bundled model ready"))
        self._task.failed.connect(
            lambda message: QMessageBox.warning(self, "Could not prepare the model", message)
        )
        self._task.finished.connect(self._on_task_finished)
        self._task.start()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress_label.setText(message)

    def _on_task_finished(self) -> None:
        self._task = None
        self.progress.hide()
        self.progress_label.hide()
        self.refresh()

    def add_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a Hugging Face model folder")
        if not folder:
            return
        problem = self.add_model_folder(folder, ask_with_dialog(self))
        if problem:
            QMessageBox.warning(self, "Model not added", problem)

    def add_model_folder(self, folder: str, confirm) -> str | None:
        """Add a folder, asking `confirm(title, text)` before allowing custom code or
        pickle weights. Returns what went wrong, or None when the model was added."""
        try:
            add_model_folder(self.context.project, folder, confirm)
        except ModelFolderError as error:
            return str(error)
        self.refresh()
        return None

    def can_close(self) -> bool:
        if self._task is not None and self._task.is_running():
            self._task.wait(60_000)  # conversion cannot be interrupted half-way safely
        return True

    def receive(self, _handoff) -> None:
        """No page hands anything to this one; navigating here only shows it."""
