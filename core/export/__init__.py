"""Export: a run's model where people serve it, checked against the in-app answers.

core.export.exporter
    export_run(project, run_id, ExportOptions, progress=None, cancelled=None) -> ExportResult
    ExportResult: folder, format, files, merge_note, gguf_file, gguf_missing, parity,
                  warnings, card_path, complete, summary_lines(), as_dict()
    ExportCancelled
core.export.options
    ExportOptions(format, out_dir, overwrite, parity_eval_set, gguf_type, gguf_converter,
                  llama_cpp); FORMATS, FORMAT_TITLES, option_help(name)
core.export.parity
    check_parity(...) -> ParityResult (passed, n, n_same, mismatches, summary())
core.export.adapter
    vllm_adapter_problems(folder) -> list[str]
core.export.gguf_export
    find_llama_cpp_script(configured="") -> Path | None; choose_converter(...)
core.export.records
    list_exports(project, run_id=None) -> list[ExportRecord]
"""
