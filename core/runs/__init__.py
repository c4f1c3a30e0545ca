"""Runs: the record of each training run, shared by every feature that trains or reads one.

Low in the house: training writes it, evaluation, export, chat and the Runs page
(core.history) read it; it imports only core.project, core.recipe and core.methods.

core.runs.record   RunInfo, RunState, RunNotFound, RunBusy, RunLock; list_runs, load_run,
                   insert_run_row/update_run_row, checkpoints, read_metrics, read_advice
core.runs.records  MetricRecord, Advice, JsonlAppender; read_metrics_file, read_advice_file
                   (the one reader of metrics.jsonl and its resume rule)
core.runs.curves   loss_curves(metrics_path, x_axis="step"|"epoch"|"tokens") -> LossCurves
core.runs.replay   read_run_for_replay(project, run_id) -> ReplayedRun (a past run's records)
core.runs.rebuild  repair_project(folder): list the runs again from their folders
core.runs.store    rename_run, set_note, delete_run (every row of the run, then files),
                   leftover_folders, remove_leftover_folders
core.runs.export   write_metrics_csv(metrics_path, out); write_tensorboard(...)
"""
