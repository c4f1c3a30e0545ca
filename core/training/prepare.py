"""Getting a run's inputs ready: the base model folder, the dataset (a saved version or
plain files), the held-out validation split and the tokenized examples.

A dataset version comes from core.dataset when that feature is installed; the trainer
works from plain JSONL files without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.dataset import versions
from core.models.registry import ModelFolderError, resolve_model
from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.records import Advice
from core.training.chat_tokens import TokenizedSplit, require_chat_template, tokenize_split
from core.training.conversations import Conversation, hold_out, read_conversations


@dataclass
class DatasetSource:
    train_path: Path
    valid_path: Path | None
    version_id: int | None = None
    version_label: str = ""
    content_hash: str = ""


@dataclass
class PreparedData:
    source: DatasetSource
    train: list[Conversation]
    valid: list[Conversation]
    held_out: bool  # the validation examples were split off the training file
    train_tokens: TokenizedSplit | None = None
    valid_tokens: TokenizedSplit | None = None
    notes: list[str] = field(default_factory=list)
    truncation_warning: str = ""  # answers cut by max_seq_length (the run still starts)
    truncation_details: dict = field(default_factory=dict)

    def stats(self) -> dict:
        out = {
            "n_train": len(self.train),
            "n_valid": len(self.valid),
            "validation_held_out": self.held_out,
        }
        if self.train_tokens is not None:
            out.update(
                train_tokens=self.train_tokens.n_tokens,
                train_tokens_trained=self.train_tokens.n_trained_tokens,
                train_truncated=self.train_tokens.n_truncated,
            )
        if self.valid_tokens is not None:
            out.update(valid_tokens=self.valid_tokens.n_tokens)
        return out


def resolve_base_model(project, config: TrainConfig):
    """The base model's folder (the bundled one is converted on first use)."""
    try:
        return resolve_model(config.base_model, project)
    except ModelFolderError as error:
        raise TrainConfigError("base_model", str(error)) from None


def _load_dataset_version(project, label: str):
    """A dataset version by label ("v3") or database id ("12")."""
    text = label.strip()
    try:
        if text.isdigit():
            return versions.load_version(project, int(text))
        return versions.find_version(project, text)
    except Exception as error:  # the dataset feature's own "not found" errors
        raise TrainConfigError("dataset_version", str(error)) from None


def resolve_dataset(project, config: TrainConfig) -> DatasetSource:
    if config.dataset_version.strip():
        if project is None:
            raise TrainConfigError(
                "dataset_version", "a dataset version needs a project; give files instead."
            )
        version = _load_dataset_version(project, config.dataset_version)
        valid = Path(version.valid_path)
        return DatasetSource(
            train_path=Path(version.train_path),
            valid_path=valid if valid.is_file() and valid.stat().st_size > 0 else None,
            version_id=int(version.id),
            version_label=str(version.label),
            content_hash=str(version.content_hash),
        )
    config.require_data()
    train = Path(config.train_file).expanduser()
    if not train.is_file():
        raise TrainConfigError("train_file", f"{train} does not exist.")
    valid = None
    if config.validation_file.strip():
        valid = Path(config.validation_file).expanduser()
        if not valid.is_file():
            raise TrainConfigError("validation_file", f"{valid} does not exist.")
    return DatasetSource(train_path=train.resolve(), valid_path=valid.resolve() if valid else None)


def read_data(project, config: TrainConfig) -> PreparedData:
    source = resolve_dataset(project, config)
    train = read_conversations(source.train_path)
    notes = []
    if source.valid_path is not None:
        valid = read_conversations(source.valid_path)
        held_out = False
    else:
        train, valid = hold_out(train, config.validation_fraction, config.seed)
        held_out = bool(valid)
        if held_out:
            notes.append(
                f"held out {len(valid)} of {len(train) + len(valid)} training examples for "
                "validation (no validation file given)"
            )
    return PreparedData(source, train, valid, held_out, notes=notes)


def tokenize_data(data: PreparedData, tokenizer, config: TrainConfig, model_name: str) -> None:
    require_chat_template(tokenizer, model_name)
    data.train_tokens = tokenize_split(
        tokenizer, data.train, config.loss_on, config.max_seq_length, str(data.source.train_path)
    )
    if data.valid:
        data.valid_tokens = tokenize_split(
            tokenizer,
            data.valid,
            config.loss_on,
            config.max_seq_length,
            str(data.source.valid_path or data.source.train_path),
        )
    check_truncation(data, config)


def check_truncation(data: PreparedData, config: TrainConfig) -> None:
    """Stop a run that would learn nothing; warn when answers are cut.

    Examples longer than max_seq_length keep their first tokens. When the prompts alone
    fill the limit, no answer token is left: the loss reads 0 and the run "finishes"
    having learned nothing, so that is an error before the run starts.
    """
    train = data.train_tokens.truncation if data.train_tokens else None
    if train is None or config.loss_on == "all":
        return
    if train.trained_tokens_kept == 0 and train.answers_lost:
        raise TrainConfigError(
            "max_seq_length",
            f"{config.max_seq_length} tokens end before any answer starts: all "
            f"{train.answers_lost} training examples lose their whole answer, so there is "
            f"nothing to learn. Raise max_seq_length to {train.whole_answers_length} (enough for "
            "every whole answer) or shorten the prompts.",
        )
    parts = []
    if train.affected:
        what = []
        if train.answers_lost:
            what.append(f"{train.answers_lost} lose their whole answer (nothing learned)")
        if train.answers_cut:
            what.append(f"{train.answers_cut} have their answer cut short")
        parts.append(
            f"{train.affected} of {train.n_examples} training examples are longer than "
            f"max_seq_length {config.max_seq_length}: " + " and ".join(what)
        )
    valid = data.valid_tokens.truncation if data.valid_tokens else None
    if valid is not None and valid.affected:
        parts.append(
            f"{valid.affected} of {valid.n_examples} validation examples lose all or part of "
            "their answer, so the validation loss measures less of them"
        )
    if not parts:
        return
    needed = max(train.whole_answers_length, valid.whole_answers_length if valid else 0)
    data.truncation_warning = (
        "; ".join(parts) + f". Raise max_seq_length to {needed} to keep every answer whole."
    )
    data.truncation_details = {
        "max_seq_length": config.max_seq_length,
        "answers_lost": train.answers_lost,
        "answers_cut": train.answers_cut,
        "suggested_max_seq_length": needed,
    }
    data.notes.append(data.truncation_warning)


def truncation_advice(data: PreparedData):
    """The warning as run advice, which the Train page shows and the run's record keeps."""
    if not data.truncation_warning:
        return None
    return Advice(
        step=0,
        severity="warning",
        kind="truncated_answers",
        title="Answers cut by max_seq_length",
        message=data.truncation_warning,
        details=dict(data.truncation_details),
    )
