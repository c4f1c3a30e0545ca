"""Taking the project's current dataset as the estimator's token counts."""

import pytest

from core.dataset.model import Dataset
from core.dataset.split import SplitConfig
from core.dataset.versions import save_version
from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.dataset_tokens import DatasetTokensUnavailable, project_dataset_tokens
from core.estimate.run import estimate_run


def conversations(n):
    return [
        [
            {"role": "user", "content": f"Question {i}: " + "word " * (10 + i % 7)},
            {"role": "assistant", "content": "An answer " * (20 + i % 5)},
        ]
        for i in range(n)
    ]


def test_no_saved_version_is_said_plainly(project):
    with pytest.raises(DatasetTokensUnavailable, match="no saved dataset version"):
        project_dataset_tokens(project)


def test_counts_the_training_split_and_feeds_the_estimate(project):
    save_version(
        project,
        Dataset.from_conversations(conversations(40), name="support"),
        split=SplitConfig(valid_fraction=0.25),
    )
    seen = []
    tokens = project_dataset_tokens(project, progress=lambda f, m: seen.append(f))
    assert tokens.examples == 30 and tokens.label.startswith("support v1")
    assert tokens.total_tokens > 30 * 40 and tokens.max_tokens >= tokens.avg_tokens
    assert "characters" in tokens.counted_with and seen[-1] == 1.0
    model, gpu = load_architecture("Llama-2-7B"), find_gpu("RTX 4090")
    settings = estimate_run(examples=tokens.examples, dataset_tokens=tokens.total_tokens)
    assert estimate(model, settings, gpu).time.real_tokens_per_epoch == tokens.total_tokens


def test_counts_with_a_real_tokenizer(project, tiny_model_dir):
    save_version(
        project,
        Dataset.from_conversations(conversations(12), name="chat"),
        split=SplitConfig(valid_fraction=0.0),
    )
    tokens = project_dataset_tokens(project, tokenizer_source=tiny_model_dir)
    assert tokens.examples == 12 and tokens.counted_with != "about 4 characters per token"
    assert tokens.total_tokens > 12 * 20
