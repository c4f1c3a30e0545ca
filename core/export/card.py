"""The model card (README.md) an export carries: what the model is, how it was made, how
well it did, and how to run it.

Hugging Face's card layout: YAML front matter (base_model, library, tags), then prose.
Every fact comes from the run's record (config.yaml, run.json, the database row) and the
evaluation store, so the card can be traced back to the project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from core import __version__
from core.evaluation.store import list_eval_sets, list_runs
from core.export.source import ExportSource
from core.methods import METHODS
from core.models.catalog import model_catalog

CONFIG_SUMMARY = (
    "method",
    "epochs",
    "max_steps",
    "learning_rate",
    "micro_batch_size",
    "gradient_accumulation",
    "max_seq_length",
    "packing",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "loss_on",
    "seed",
)
METRIC_COLUMNS = (
    ("accuracy", "Accuracy", "{:.1%}"),
    ("format_compliance", "Format compliance", "{:.1%}"),
    ("perplexity", "Perplexity", "{:.2f}"),
    ("refusal_rate", "Refusals", "{:.1%}"),
)


@dataclass
class CardFacts:
    """What the exporter learned that the run's record does not hold."""

    fmt: str
    files: list[str] = field(default_factory=list)
    merge_note: str = ""
    gguf_file: str = ""
    gguf_note: str = ""
    parity: object | None = None  # ParityResult
    warnings: list[str] = field(default_factory=list)
    exported_at: str = ""


def run_eval_results(project, run_id: str) -> list[dict]:
    """Per eval set this run was evaluated on: its newest metrics and the base model's."""
    if project is None:
        return []

    sets = {s.id: s for s in list_eval_sets(project, purpose=None)}
    rows = []
    for set_id, stored_set in sets.items():
        runs = list_runs(project, set_id)
        mine = [r for r in runs if r.training_run == run_id and r.status == "complete"]
        if not mine:
            continue
        base = [r for r in runs if r.kind == "base" and r.status == "complete"]
        rows.append(
            {
                "eval_set": stored_set.name,
                "eval_set_hash": stored_set.content_hash,
                "n": mine[-1].metrics.get("n"),
                "model": mine[-1].metrics,
                "base": base[-1].metrics if base else None,
                "base_label": base[-1].label if base else "",
            }
        )
    return rows


def _value(metrics: dict | None, key: str, fmt: str) -> str:
    if not metrics or metrics.get(key) is None:
        return "-"
    return fmt.format(metrics[key])


def _config_dict(source: ExportSource) -> dict:
    try:
        data = yaml.safe_load(source.config_yaml) or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def card_base_model(source: ExportSource) -> str:
    """The Hub id the base model came from when known (the run record pins it; the
    catalog knows the bundled model's), else the name the run used."""
    recorded = source.run_json.get("base_model_hub_id")
    if recorded:
        return str(recorded)

    for name, facts in model_catalog().items():
        if name.lower() == source.base_name.lower() and facts.get("hf_id"):
            return str(facts["hf_id"])
    return source.base_name


def _front_matter(source: ExportSource, facts: CardFacts) -> str:
    library = "peft" if facts.fmt == "adapter" else "transformers"
    if facts.fmt == "gguf":
        library = "gguf"
    tags = ["finetune-studio", source.method, "text-generation"]
    if facts.fmt == "gguf":
        tags += ["gguf", "llama.cpp"]
    lines = [
        "---",
        f"base_model: {json.dumps(card_base_model(source))}",
        f"library_name: {library}",
    ]
    lines += ["pipeline_tag: text-generation", "tags:"] + [f"- {t}" for t in tags] + ["---"]
    return "\n".join(lines)


def _usage(source: ExportSource, facts: CardFacts) -> list[str]:
    if facts.fmt == "adapter":
        return [
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "from peft import PeftModel",
            f'base = AutoModelForCausalLM.from_pretrained("{source.base_path}")',
            'model = PeftModel.from_pretrained(base, "THIS_FOLDER")',
            'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")',
            "```",
            "",
            "vLLM: `vllm serve BASE_MODEL --enable-lora --lora-modules "
            f"my-adapter=THIS_FOLDER --max-lora-rank {max(8, _config_dict(source).get('lora_r', 16))}`",
        ]
    if facts.fmt == "merged":
        return [
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            'model = AutoModelForCausalLM.from_pretrained("THIS_FOLDER")',
            'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")',
            "```",
            "",
            "No peft needed. vLLM: `vllm serve THIS_FOLDER`.",
        ]
    return [
        f"llama.cpp: `llama-cli -m {facts.gguf_file or 'MODEL.gguf'} -cnv`",
        "",
        "Ollama: `ollama create my-model -f Modelfile`, then `ollama run my-model`.",
    ]


def model_card(project, source: ExportSource, facts: CardFacts) -> str:
    """The README.md text for an export."""
    run = source.run
    config = _config_dict(source)
    method = METHODS[source.method].card_title if source.method in METHODS else source.method
    data = source.run_json.get("data") or {}
    lines = [_front_matter(source, facts), "", f"# {run.name or run.run_id}", ""]
    what = {
        "adapter": "a LoRA adapter for",
        "merged": "a standalone model fine-tuned from",
        "gguf": "a GGUF model fine-tuned from",
    }[facts.fmt]
    lines += [
        f"This is {what} **{source.base_name}**, trained with {method} in FineTune Studio "
        f"{__version__} (run `{run.run_id}`).",
        "",
    ]
    if facts.merge_note:
        lines += [f"**Weights:** {facts.merge_note}", ""]
    if source.quantized_training and facts.fmt == "adapter":
        lines += [
            f"**Note:** the adapter was trained on the {source.quantized_training} quantized "
            "base. Load it on the base model in 16-bit (as above) or quantized the same way.",
            "",
        ]
    if facts.gguf_note:
        lines += [f"**GGUF:** {facts.gguf_note}", ""]

    lines += ["## Training", "", "| setting | value |", "|---|---|"]
    lines += [f"| base model | {source.base_name} |", f"| method | {method} |"]
    for key in CONFIG_SUMMARY[1:]:
        if key in config and not (key.startswith("lora_") and not source.is_adapter):
            lines.append(f"| {key} | {config[key]} |")
    for label, value in (
        ("steps", f"{run.steps_done} of {run.max_steps}"),
        ("device", run.device),
        ("final training loss", f"{run.final_train_loss:.4f}" if run.final_train_loss else "-"),
        (
            "best validation loss",
            f"{run.best_val_loss:.4f} at step {run.best_step}" if run.best_val_loss else "-",
        ),
        ("final model is", source.studio_model.get("from_checkpoint", "the last step")),
    ):
        lines.append(f"| {label} | {value} |")
    lines += ["", "## Dataset", ""]
    version = run.dataset_version_label or "(a file, not a saved dataset version)"
    lines += [
        f"- version: {version}"
        + (f" (id {run.dataset_version_id})" if run.dataset_version_id else ""),
        f"- content hash: `{run.dataset_content_hash or 'not recorded'}`",
        f"- training file: `{run.train_file}`",
        f"- examples: {data.get('n_train', '?')} training, {data.get('n_valid', '?')} validation",
        "",
    ]

    lines += ["## Evaluation", ""]
    results = run_eval_results(project, run.run_id)
    if not results:
        lines += ["No evaluation of this run is stored in the project yet.", ""]
    for row in results:
        lines += [
            f"Eval set **{row['eval_set']}** (`{row['eval_set_hash'][:12]}`, {row['n']} prompts):",
            "",
            "| model | " + " | ".join(title for _, title, _ in METRIC_COLUMNS) + " |",
            "|---|" + "---|" * len(METRIC_COLUMNS),
            "| this model | "
            + " | ".join(_value(row["model"], key, fmt) for key, _, fmt in METRIC_COLUMNS)
            + " |",
        ]
        if row["base"]:
            lines.append(
                f"| {row['base_label']} (base) | "
                + " | ".join(_value(row["base"], key, fmt) for key, _, fmt in METRIC_COLUMNS)
                + " |"
            )
        lines.append("")

    lines += ["## Parity check", ""]
    parity = facts.parity
    if parity is None:
        lines += [
            "Not run: the exported model's answers were not compared with the in-app answers.",
            "",
        ]
    else:
        lines += [parity.summary(), "", f"Reference: {parity.reference}.", ""]
        for mismatch in parity.mismatches[:5]:
            lines += [
                f"- prompt {mismatch.index}: {mismatch.prompt[:80]!r}",
                f"  - in app: {mismatch.in_app[:120]!r}",
                f"  - export: {mismatch.exported[:120]!r}",
            ]
        if parity.mismatches:
            lines.append("")
    if facts.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in facts.warnings] + [""]
    lines += ["## Use", "", *_usage(source, facts), ""]
    lines += ["## Files", ""] + [f"- `{name}`" for name in sorted(facts.files)] + [""]
    if source.config_yaml:
        lines += [
            "## Full training configuration",
            "",
            "```yaml",
            source.config_yaml.strip(),
            "```",
            "",
        ]
    lines += [f"Exported {facts.exported_at} by FineTune Studio {__version__}."]
    return "\n".join(lines) + "\n"
