"""The chat dataset: model, import/export, validation, statistics and versions (no Qt here).

API summary (import from the submodules; this package imports nothing heavy):

core.dataset.model
    Example(record=None, *, raw=None, id=None, tags=(), reviewed=False, rating=None, line=None)
        .id .tags .reviewed .rating .line .is_broken .parse_error
        .n_messages .first_user_text .first_assistant_text   # cheap, for table rows
        .messages -> list[dict] (copy)  .record -> dict (copy)  .raw_text
        .replace(messages=, record=, tags=, reviewed=, rating=) -> Example (same id)
        .duplicate() -> Example (new id)   .content_hash()   .training_record()
        Example.from_messages(messages, tags=..)   Example.from_record(record)
    Dataset(examples, name, source_path, source_format, load_findings)
        len(), [i], iter, .records(), .index_of(id), .all_tags(), .ensure_unique_ids()
core.dataset.jsonl
    read_jsonl(path, name=None, progress=None, cancelled=None) -> Dataset
    write_jsonl(path, examples_or_dataset, studio_fields=True)       # atomic
core.dataset.formats
    detect_format(path) -> str; import_dataset(path, fmt="auto", mapping=None) -> Dataset
    export_dataset(dataset, path, fmt="auto", allow_loss=False)
core.dataset.split
    SplitConfig(valid_fraction=0.1, seed=42, stratify_by_tag=False)
    split_indices(examples, config) -> (train_idx, valid_idx)
core.dataset.versions
    save_version(project, dataset, note="", split=None, progress=None, cancelled=None)
        -> DatasetVersion (raises DatasetHasErrors)
    list_versions(project, dataset=None); load_version(project, id); latest_version(project)
    find_version(project, "v3", dataset=None); diff_versions(a, b) -> VersionDiff
    DatasetVersion: id, label, dataset, number, note, content_hash, created_at, folder,
        train_path, valid_path, examples_path, n_train, n_valid, split, load_dataset(),
        load_split()
core.dataset.findings
    Finding(severity, code, message, fix, file, line, example, message_index, fixable,
        example_id); ERROR, WARNING, INFO
core.dataset.validation
    validate_dataset(dataset, options=ValidationOptions(...)) -> ValidationReport
core.dataset.stats
    dataset_token_stats(version_or_dataset, tokenizer=None) -> dict
core.dataset.fixes
    fix_example(example, code) -> Example | None   (one-click fixes)
"""
