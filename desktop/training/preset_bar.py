"""The Train page's presets: one button per task kind (format or tone, domain, reasoning)
and one for this machine (the CPU preset); each sets a handful of fields in the form."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.recipe.config import CPU_PRESET, PRESETS

PRESET_SHORT_NAMES = {
    "format_or_tone": "Format, tone",
    "domain_adaptation": "Domain",
    "new_reasoning": "Reasoning",
}


class PresetBar(QWidget):
    chosen = Signal(str)  # the preset's name

    def __init__(self) -> None:
        super().__init__()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        presets = QHBoxLayout()
        presets.setSpacing(4)
        presets.addWidget(QLabel("Preset"))
        self.buttons: dict[str, QPushButton] = {}
        for preset in PRESETS.values():
            short = PRESET_SHORT_NAMES.get(preset.name, preset.label)
            button = QPushButton(f"{short} · r {preset.changes['lora_r']}")
            button.setObjectName(f"preset_{preset.name}")
            button.setToolTip(f"{preset.label}: {preset.description}")
            button.clicked.connect(lambda _=False, name=preset.name: self.chosen.emit(name))
            presets.addWidget(button)
            self.buttons[preset.name] = button
        presets.addStretch(1)
        column.addLayout(presets)
        machine = QHBoxLayout()
        machine.setSpacing(4)
        machine.addWidget(QLabel("Machine"))
        cpu = QPushButton("CPU: LoRA, 512 tokens, micro batch 2")
        cpu.setObjectName("preset_cpu")
        cpu.setToolTip(f"{CPU_PRESET.label}: {CPU_PRESET.description}")
        cpu.clicked.connect(lambda _=False: self.chosen.emit(CPU_PRESET.name))
        machine.addWidget(cpu)
        machine.addStretch(1)
        column.addLayout(machine)
        self.buttons[CPU_PRESET.name] = cpu
