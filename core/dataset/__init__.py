"""The chat dataset: model, import/export, validation, statistics and versions (no Qt here).

API summary (import from the submodules; this package imports nothing heavy):

core.dataset.model
    Example(record=None, *, raw=None, id=None, tags=(), reviewed=False, rating=None, line=None)
        .id .tags .reviewed .rating .line .is_broken .parse_error .raw .raw_text
        .n_messages .first_user_text .first_assistant_text   # cheap, for table rows
        .messages -> list[dict] (copy)  .record -> dict (copy)  .parsed_record() (no copy)
        .replace(messages=, record=, tags=, reviewed=, rating=) -> Example (same id)
        .duplicate() -> Example (new id)  .content_hash()  .training_record()  .to_json_bytes()
        Example.from_messages(messages, tags=..)  Example.from_record(record)  Example.broken(..)
    Dataset(examples, name, source_path, source_format, load_findings)
        len(), [i], iter, .records(), .index_of(id), .all_tags(), .ensure_unique_ids()
core.dataset.jsonl
    read_jsonl(path, name=None, progress=None, cancelled=None) -> Dataset   # streams lines
    write_jsonl(path, examples_or_dataset, studio_fields=True)             # atomic
    parse_jsonl_line(raw, line_number, file) -> (Example, Finding | None)
core.dataset.formats
    detect_format(path) -> "jsonl"|"alpaca"|"sharegpt"|"csv"|"tsv"|"parquet"|"hf"
    import_dataset(path, fmt="auto", mapping=None, name=None, progress, cancelled) -> Dataset
        (never raises on content; is_unreadable(dataset) when nothing could be read,
        e.g. a binary file)
    export_dataset(dataset, path, fmt="auto", allow_loss=False, studio_fields=False,
                   overwrite=True) -> int
        (raises CannotExport; OutputPathError for a path it may not replace: a folder we
        did not write never, an existing file only with overwrite)
    check_export_target(path, fmt="auto", overwrite=True) -> fmt   # the same check, first
    preview_table(path, rows=20) -> (columns, rows)
    ColumnMapping(prompt, response, system=None); conversions.guess_mapping(columns)
core.dataset.split
    SplitConfig(valid_fraction=0.1, seed=42, stratify_by_tag=False)
    split_indices(examples, config) -> (train_idx, valid_idx)
core.dataset.versions
    save_version(project, dataset, note="", split=None, progress=None, cancelled=None)
        -> DatasetVersion (raises DatasetHasErrors, nothing saved)
    list_versions(project, dataset=None); load_version(project, id); latest_version(project)
    find_version(project, "v3", dataset=None); diff_versions(a, b) / diff_datasets(a, b)
        -> VersionDiff(added, removed, changed, unchanged)
    DatasetVersion: id, label ("v3"), dataset, number, note, content_hash, created_at, folder,
        train_path, valid_path (OpenAI messages JSONL), examples_path, n_train, n_valid,
        split, load_dataset(), load_split(), as_dict()
core.dataset.findings
    Finding(severity, code, message, fix, file, line, example, message_index, fixable,
        example_id); ERROR, WARNING, INFO; Finding.as_line() -> "LINE:SEVERITY:CODE:message"
core.dataset.validation
    validate_dataset(dataset, options=ValidationOptions(max_seq_length, tokenizer,
        near_duplicates, near_duplicate_threshold, split), project=None, progress, cancelled)
        -> ValidationReport(findings, n_examples, example_severity (int8 per row), stats)
    check_example(dataset, index) -> [Finding]     # live, after one edit
    validate_snapshot(dataset, options, project, progress, cancelled) -> [Finding] | None
    check_train_valid_overlap(train, valid) -> [Finding]
    validation.base_model.find_base_model_echoes(dataset, model_dir_or_generate,
        EchoCheckConfig(), progress, cancelled) -> EchoCheckResult
    validation.distribution.compare_with_production(dataset, queries, progress, cancelled)
        -> DistributionReport; read_production_queries(path)
    validation.system_prompts.most_common_system_prompt(examples);
        system_prompt_counts(examples); first_system_prompt(example)
core.dataset.stats
    dataset_token_stats(version_or_dataset, tokenizer=None) -> {examples, avg_tokens,
        max_tokens, p95_tokens, tokens_per_epoch, estimated, tokenizer}
    dataset_statistics(dataset, tokenizer=None, max_seq_length=None, ...) -> dict
core.dataset.example_filter
    ExampleFilter(text, tag, severity, reviewed); FilterRun: filtering in time slices
core.dataset.search
    matching_rows(dataset, phrase, roles=None, start=0, stop=None) -> [index]
    prefilter_key(phrase); structure_tokens(key); line_may_match(raw_lower, key, tokens)
core.dataset.fixes
    fix_example(example, code, system_prompt=None) -> Example | None; trim_whitespace(example)
core.dataset.fix_plan
    fix_plan(pairs of (finding, example), position_of, examples, label) -> FixPlan(edit,
        fixed, removed) | None: every certain fix as one undoable edit
core.dataset.drafts
    write_draft, list_drafts, load_draft, discard_draft: autosaved unsaved edits
core.dataset.tokens
    load_tokenizer(path_or_name_or_object); count_tokens(conversations, tokenizer);
    estimate_tokens(messages)
core.dataset.demo
    populate(project) -> DatasetVersion v1; demo_dataset(); demo_eval_set_path()
"""
