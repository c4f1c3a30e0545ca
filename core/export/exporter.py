"""One export of a run, start to finish: write, convert, check parity, write the card, publish.

    result = export_run(project, run_id, ExportOptions(format="merged", out_dir="..."),
                        progress=report, cancelled=is_cancelled)

Everything is written into a hidden sibling of the output folder, renamed to the final
name only at the end (core.export.staging), so a cancel, an error or a killed process
never leaves a half-written export under the name the user asked for. `progress` and
`cancelled` are what desktop BackgroundTask passes.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic_file import file_mode, folder_mode, write_text_atomic
from core.evaluation.generation import EvaluationCancelled
from core.export.adapter import vllm_adapter_problems, write_adapter
from core.export.card import CardFacts, model_card
from core.export.gguf_export import (
    GgufConverterMissing,
    choose_converter,
    missing_converter_message,
    run_llama_cpp,
)
from core.export.gguf_llama import GgufCancelled, write_llama_gguf
from core.export.merge import write_merged
from core.export.options import ExportOptions
from core.export.parity import ParityResult, check_parity
from core.export.records import add_export_record
from core.export.source import ExportSource, load_export_source
from core.export.staging import StagedFolder, check_output_folder
from core.export.tokenizer_files import read_chat_template
from core.output_lock import output_lock
from core.project.store import utc_now
from core.training.model_loading import quiet_progress_bars

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]
CARD_FILE = "README.md"
RESULT_FILE = "export.json"
MODELFILE = "Modelfile"
CHATML_OLLAMA_TEMPLATE = (
    '"""{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n'
    '{{ end }}<|im_start|>assistant\n"""'
)


class ExportCancelled(Exception):
    """The user cancelled; nothing was left under the output folder's name."""


@dataclass
class ExportResult:
    folder: Path
    format: str
    run_id: str
    files: list[str] = field(default_factory=list)
    merge_note: str = ""
    gguf_file: Path | None = None
    gguf_missing: str = ""  # what to install when no converter could write the GGUF file
    parity: ParityResult | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def card_path(self) -> Path:
        return self.folder / CARD_FILE

    @property
    def complete(self) -> bool:
        """The requested artifact was written (a GGUF export without converter is not)."""
        return not self.gguf_missing

    def as_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "format": self.format,
            "run_id": self.run_id,
            "files": self.files,
            "merge_note": self.merge_note,
            "gguf_file": str(self.gguf_file) if self.gguf_file else None,
            "gguf_missing": self.gguf_missing,
            "parity": self.parity.as_dict() if self.parity else None,
            "warnings": self.warnings,
            "card": str(self.card_path),
        }

    def summary_lines(self) -> list[str]:
        lines = [f"exported {self.run_id} as {self.format} to {self.folder}"]
        if self.merge_note:
            lines.append(f"  {self.merge_note}")
        if self.gguf_file:
            lines.append(f"  GGUF: {self.gguf_file.name}")
        if self.gguf_missing:
            lines.append("  GGUF NOT written: " + self.gguf_missing.replace("\n", "\n  "))
        if self.parity is not None:
            lines.append(f"  {self.parity.summary()}")
            for mismatch in self.parity.mismatches[:5]:
                lines.append(
                    f"    prompt {mismatch.index}: in app {mismatch.in_app[:60]!r}, "
                    f"export {mismatch.exported[:60]!r}"
                )
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        lines.append(f"  model card: {self.card_path}")
        return lines


def file_stem(name: str) -> str:
    """A file-name-safe form of a run name: 'Ticket model v2' -> 'ticket-model-v2'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.").lower()
    return stem or "model"


def _ollama_modelfile(gguf_name: str, template: str | None) -> str:
    lines = [f"FROM ./{gguf_name}", "PARAMETER temperature 0"]
    if template and "<|im_start|>" in template:
        lines += [f"TEMPLATE {CHATML_OLLAMA_TEMPLATE}", 'PARAMETER stop "<|im_end|>"']
    return "\n".join(lines) + "\n"


def _readable_by_all(folder: Path) -> None:
    """Exports are meant to be shared and served (often by another user): rw-r--r--, not
    the private mode the trainer's and the atomic writer's temporary files get."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(file_mode())
        elif path.is_dir():
            path.chmod(folder_mode())
    folder.chmod(folder_mode())


class _Steps:
    """Progress over the export's steps, and the cancel check between them."""

    def __init__(self, progress: Progress | None, cancelled: Cancelled | None) -> None:
        self.report = progress or (lambda fraction, message: None)
        self.cancelled = cancelled or (lambda: False)

    def check(self) -> None:
        if self.cancelled():
            raise ExportCancelled("Export cancelled; nothing was written under the output name.")


def _write_gguf(source, staged: Path, options: ExportOptions, result, steps, facts) -> str:
    """Merge into a scratch folder, convert it; returns the format parity should load."""
    scratch = staged / ".merged-for-gguf"
    scratch.mkdir()
    info = write_merged(source, scratch, steps.report, (0.0, 0.35))
    result.merge_note = info.description
    steps.check()
    try:
        converter = choose_converter(scratch, options.gguf_converter, options.llama_cpp)
    except GgufConverterMissing as error:
        # Nothing to convert with: ship the merged model and say exactly what to install.
        for item in scratch.iterdir():
            item.rename(staged / item.name)
        scratch.rmdir()
        result.gguf_missing = str(error).replace("MERGED_MODEL_DIR", str(options.out_path))
        facts.gguf_note = (
            "not written: no converter on the machine that exported it. This folder holds "
            "the merged model; convert it with llama.cpp: "
            + missing_converter_message(str(options.out_path), []).split("\n", 1)[1]
        )
        return "merged"
    gguf_name = f"{file_stem(source.run.name or source.run_id)}.{options.gguf_type}.gguf"
    target = staged / gguf_name

    def convert_progress(fraction: float, message: str) -> None:
        steps.report(0.35 + 0.25 * fraction, message)

    try:
        if converter.kind == "llama.cpp":
            written = run_llama_cpp(
                converter.script,
                scratch,
                target,
                options.gguf_type,
                convert_progress,
                steps.cancelled,
            )
        else:
            written = write_llama_gguf(
                scratch,
                target,
                options.gguf_type,
                source.run.name or source.run_id,
                convert_progress,
                steps.cancelled,
            )
    except GgufCancelled as error:
        raise ExportCancelled(str(error)) from None

    template = read_chat_template(scratch)
    write_text_atomic(staged / MODELFILE, _ollama_modelfile(gguf_name, template))
    shutil.rmtree(scratch)
    result.gguf_file = target
    facts.gguf_file = gguf_name
    facts.gguf_note = (
        f"{gguf_name}, {options.gguf_type}, written by {converter.description}"
        + (f" ({'; '.join(written.notes)})" if written.notes else "")
        + "."
    )
    return "gguf"


def export_run(
    project,
    run_id: str,
    options: ExportOptions,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ExportResult:
    """Export one run's final model; ExportCancelled if cancelled (nothing left behind)."""
    # The output is checked before anything is loaded or locked: a refused path costs nothing.
    run_folder = project.runs_dir / run_id if project is not None else None
    check_output_folder(options.out_path, options.overwrite, project, run_folder)
    # One export per output folder at a time (another process may be writing it: the loser
    # is refused, so every "exported to" is true). The export has its own progress, so
    # transformers' weight-loading bars are kept quiet.
    with output_lock(options.out_path), quiet_progress_bars():
        return _export_run(project, run_id, options, progress, cancelled)


def _export_run(project, run_id, options, progress, cancelled) -> ExportResult:
    steps = _Steps(progress, cancelled)
    # The output is checked before anything is loaded: a refused path costs nothing.
    run_folder = project.runs_dir / run_id if project is not None else None
    check_output_folder(options.out_path, options.overwrite, project, run_folder)
    source: ExportSource = load_export_source(project, run_id)
    result = ExportResult(options.out_path, options.format, run_id)
    facts = CardFacts(fmt=options.format, warnings=result.warnings)
    steps.report(0.0, f"exporting {run_id} as {options.format}")
    with StagedFolder(options.out_path, options.overwrite, project, source.run.folder) as staged:
        folder = staged.path
        parity_format = options.format
        if options.format == "adapter":
            write_adapter(source, folder)
            result.warnings += [f"vLLM: {p}" for p in vllm_adapter_problems(folder)]
            steps.report(0.15, "adapter written")
            parity_span = (0.15, 0.95)
        elif options.format == "merged":
            info = write_merged(source, folder, steps.report, (0.0, 0.45))
            result.merge_note = info.description
            parity_span = (0.45, 0.95)
        else:
            parity_format = _write_gguf(source, folder, options, result, steps, facts)
            parity_span = (0.6, 0.95)
        steps.check()
        if options.parity_eval_set:
            try:
                result.parity = check_parity(
                    project,
                    source,
                    folder,
                    parity_format,
                    options.parity_eval_set,
                    steps.report,
                    steps.cancelled,
                    parity_span,
                    gguf_file=result.gguf_file.name if result.gguf_file else None,
                )
            except EvaluationCancelled:
                raise ExportCancelled(
                    "Export cancelled; nothing was written under the output name."
                ) from None
        steps.check()
        steps.report(0.96, "writing the model card")
        facts.merge_note = result.merge_note
        facts.parity = result.parity
        facts.exported_at = utc_now()
        facts.files = [
            *sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
            CARD_FILE,
            RESULT_FILE,
        ]
        write_text_atomic(folder / CARD_FILE, model_card(project, source, facts))
        result.files = facts.files
        if result.gguf_file is not None:
            result.gguf_file = options.out_path / result.gguf_file.name
        write_text_atomic(
            folder / RESULT_FILE, json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n"
        )
        steps.check()
        _readable_by_all(folder)
        staged.commit()
    if project is not None:
        add_export_record(
            project,
            run_id,
            options.format,
            result.folder,
            result.parity.as_dict() if result.parity else None,
            result.as_dict(),
        )
    steps.report(1.0, f"exported to {result.folder}")
    return result
