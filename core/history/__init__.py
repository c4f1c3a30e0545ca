"""The Runs page's logic: every run of a project summarized, compared, in an iterate loop,
with what it cost. Built on the run record (core.runs); GUI-free, so the Runs page
(desktop/runs) and `finetune-studio runs` are thin layers on:

core.history.summaries   load_summaries(project, run_ids=None) -> list[RunSummary]
                         load_summary(project, run_id); resolve_run(project, id_or_name)
core.history.compare     compare_runs(project, ids_or_names) -> RunComparison
                         compare_summaries(project, summaries); diff_dataset_versions(...)
core.history.config_text diff_configs(yaml_texts) -> ConfigDiff; config_values(yaml_text)
core.history.evals       evals_by_run(project); compare_run_evals(project, run_ids)
core.history.iterate     iteration_timeline(project) -> list[IterationStep]
                         drafts_from_failures(project, run_id) -> DraftRequest (.handoff())
                         next_run_config(project, run_id, version_id); train_like_handoff(...)
core.history.spend       record_expert_hours, list_expert_hours, delete_expert_hours,
                         spend_summary(project)
core.history.spend_settings  load_settings/save_settings(SpendSettings), project_price
core.history.pricing     hourly_price(device_text, catalog, project_price) -> HourlyPrice
core.history.estimates   fill_estimates(project) (cached estimated peak memory and hours)
"""
