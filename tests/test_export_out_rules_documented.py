"""README, --help and the code agree on where an export may go: outside the project or in
its exports/ folder (the GUI's default), never elsewhere in the project (the walk found
the README forbidding the folder the app proposes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.export.options import option_help
from core.output_folder import OutputPathError, refuse_project_data

README = Path(__file__).resolve().parent.parent / "README.md"


def test_exports_folder_is_allowed_and_said_so(project, tmp_path):
    refuse_project_data(project.folder / "exports" / "run-merged", project.folder)
    refuse_project_data(tmp_path / "elsewhere", project.folder)
    with pytest.raises(OutputPathError):
        refuse_project_data(project.folder / "runs" / "x", project.folder)
    row = next(line for line in README.read_text().splitlines() if "export RUN" in line)
    assert "`exports/`" in row and "may not be, hold or lie inside the project" not in row
    assert "exports/" in option_help("out_dir")
