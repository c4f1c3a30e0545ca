"""Training: full, LoRA, QLoRA and 8-bit LoRA fine-tuning with a live, crash-safe run record.

Nothing here imports torch or Qt at module level. The public API, by module:

core.recipe.config
    TrainConfig(...)            every field has metadata help/label/group (GUI tooltips)
    TrainConfigError(field, message)
    load_config(path) / save_config(config, path) / config_to_yaml(config, with_help=False)
    PRESETS, apply_preset(config, name)
core.training.session
    TrainingSession(project, config, observer=None, resume_run=None)
        .run() -> RunResult (blocking, never raises for a failed run; call it on a worker
        thread)   .stop(reason) .pause() .resume() .wait(timeout)   (from any thread)
        .run_id .folder .state .is_paused .result
    start_run(project, config, observer=None, resume_run=None) -> TrainingSession (a thread)
    run_training(project, config, observer=None) -> RunResult
    resume_run(project, run_id, observer=None) -> RunResult   (config from the run folder)
    RunResult: run_id, folder, status, reason, final_model_dir, best_checkpoint,
    best_val_loss, best_step, final_val_loss, final_train_loss, steps_done, max_steps,
    duration_s, peak_memory_bytes, memory_kind, tokens_per_second, advice, suggestions
core.training.observer
    TrainingObserver: on_status, on_metrics, on_progress, on_advice, on_log, on_checkpoint,
    on_finished (plain Python, called on the training thread)
core.runs.record
    list_runs(project) -> list[RunInfo]; load_run(project, run_id) -> RunInfo
    read_metrics(run_or_folder) -> list[MetricRecord]; read_advice(run_or_folder)
    RunState (running/finished/stopped/failed/interrupted); RunNotFound; RunBusy
    (deleting a run: core.runs.store.delete_run)
    RunInfo: run_id, name, status (a RunState), reason,
    method, base_model(_path), dataset_version_*, folder, final_model_dir, best_val_loss,
    best_step, peak_memory_bytes, memory_kind, duration_s, resumable, config()
core.training.preflight
    run_preflight(project, config, verify=True) -> PreflightReport (.fits, .message,
    .peak_memory_bytes, .step_time_s, .estimate, .suggestions[Suggestion(label, changes)])
core.runs.records
    MetricRecord, Advice, read_metrics_file(path), read_advice_file(path)
core.runs.replay
    read_run_for_replay(project, run_id) -> ReplayedRun (a past run's metrics and advice)
core.training.advice_actions
    action_for(advice, config) -> AdviceAction (stop the run and/or settings for the next)
core.training.curves
    SeriesBuffer, SmoothedSeries, smooth(values, weight): live-curve buffers for the charts
core.training.cli
    `finetune-studio train CONFIG.yaml [--project DIR] [--resume RUN] [--demo] [--set k=v]`
"""
