"""Runs: every training run of a project, compared, in an iterate loop, with what it cost.

GUI-free; the Runs page (desktop/runs) and `finetune-studio runs` are thin layers on:

core.runs.summaries   load_summaries(project, run_ids=None) -> list[RunInfo]
                      load_summary(project, run_id); resolve_run(project, id_or_name)
core.runs.curves      loss_curves(metrics_path, x_axis="step"|"epoch"|"tokens") -> LossCurves
core.runs.compare     compare_runs(project, ids_or_names) -> RunComparison
                      compare_summaries(project, summaries); diff_dataset_versions(...)
core.runs.config_text diff_configs(yaml_texts) -> ConfigDiff; config_values(yaml_text)
core.runs.evals       evals_by_run(project); compare_run_evals(project, run_ids)
core.runs.iterate     iteration_timeline(project) -> list[IterationStep]
                      drafts_from_failures(project, run_id) -> DraftRequest (.handoff())
                      next_run_config(project, run_id, version_id); train_like_handoff(...)
core.runs.store       rename_run, set_note, delete_run (every row of the run, then files),
                      leftover_folders, remove_leftover_folders
core.runs.spend       load_settings/save_settings(SpendSettings), record_expert_hours,
                      list_expert_hours, delete_expert_hours, spend_summary(project)
core.runs.pricing     hourly_price(device_text, catalog, project_price) -> HourlyPrice
core.runs.estimates   fill_estimates(project) (cached estimated peak memory and hours)
core.runs.export      write_metrics_csv(metrics_path, out); write_tensorboard(...)
"""
