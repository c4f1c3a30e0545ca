"""App settings kept as an INI file in the platformdirs config folder."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from core.app_dirs import config_dir


def app_settings() -> QSettings:
    return QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
