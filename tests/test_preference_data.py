"""Preference data for DPO: import (TRL conversational, standard and implicit-prompt
pairs), validation findings and `data validate`, versions of kind preference, and pairs
made from blind A/B ratings and from Chat corrections."""

from __future__ import annotations

import json

import pytest
from test_evaluation_ab import _stored_runs

from core.chat.preference_pairs import preference_pair_from_correction
from core.chat.store import (
    ChatSettings,
    add_turn,
    create_conversation,
    load_conversation,
    save_answer,
)
from core.dataset.preferences import (
    PreferenceDataError,
    PreferencePair,
    answer,
    is_preference_file,
    parse_record,
    read_preference_file,
    validate_pairs,
)
from core.dataset.preferences_store import (
    load_preference_pairs,
    preference_versions,
    save_preference_version,
)
from core.dataset.versions import (
    CHAT_KIND,
    PREFERENCE_KIND,
    DatasetHasErrors,
    find_version,
    latest_version,
    list_versions,
)
from core.evaluation.ab_pairs import (
    Rating,
    blind_pairs,
    create_pair_set,
    record_rating,
    revealed_sides,
)
from core.evaluation.ab_preferences import preference_pairs_from_ratings
from desktop.launcher import main

USER = [{"role": "user", "content": "Triage: my invoice is wrong"}]
CONVERSATIONAL = {
    "prompt": USER,
    "chosen": [{"role": "assistant", "content": '{"label": "billing"}'}],
    "rejected": [{"role": "assistant", "content": "I am not sure."}],
}


def write(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_the_three_trl_formats_read_as_the_same_pair():
    standard = {
        "prompt": USER[0]["content"],
        "chosen": '{"label": "billing"}',
        "rejected": "I am not sure.",
    }
    implicit = {
        "chosen": USER + CONVERSATIONAL["chosen"],
        "rejected": USER + CONVERSATIONAL["rejected"],
    }
    pairs = [parse_record(r) for r in (CONVERSATIONAL, standard, implicit)]
    assert pairs[0].record() == pairs[1].record() == pairs[2].record() == CONVERSATIONAL


def test_chosen_and_rejected_with_different_prompts_are_refused(tmp_path):
    other = [{"role": "user", "content": "Another ticket"}]
    record = {
        "chosen": USER + CONVERSATIONAL["chosen"],
        "rejected": other + CONVERSATIONAL["rejected"],
    }
    with pytest.raises(PreferenceDataError, match="different prompts"):
        parse_record(record)
    read = read_preference_file(write(tmp_path / "p.jsonl", [CONVERSATIONAL, record, "{bad"]))
    assert len(read.pairs) == 1 and read.lines == [1]
    assert [(f.line, f.code) for f in read.findings] == [
        (2, "preference_prompt_mismatch"),
        (3, "invalid_json"),
    ]


def test_identical_and_empty_sides_are_errors_and_long_pairs_warn(tiny_model_dir):
    same = PreferencePair(tuple(USER), answer("yes"), answer(" yes "))
    empty = PreferencePair(tuple(USER), answer("yes"), answer("  "))
    good = parse_record(CONVERSATIONAL)
    long = PreferencePair(tuple(USER), answer("word " * 400), answer("no"))
    findings = validate_pairs([same, empty, good, long], [1, 2, 3, 4], "p.jsonl")
    assert [(f.line, f.code, f.severity) for f in findings] == [
        (1, "preference_identical", "error"),
        (2, "preference_empty_side", "error"),
    ]
    with_lengths = validate_pairs([good, long], [1, 2], "p.jsonl", str(tiny_model_dir), 64)
    assert [(f.line, f.code, f.severity) for f in with_lengths] == [
        (2, "preference_too_long", "warning")
    ]


def test_data_validate_prints_preference_findings_and_exits_1(tmp_path, capsys):
    bad = dict(CONVERSATIONAL, rejected=CONVERSATIONAL["chosen"])
    path = write(tmp_path / "prefs.jsonl", [CONVERSATIONAL, bad, {"prompt": "x"}])
    assert is_preference_file(path)
    assert main(["data", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("2:error:preference_identical:Line 2: chosen and rejected")
    assert lines[1].startswith("3:error:preference_format:Line 3:")
    assert "3 preference pairs: 2 errors, 0 warnings" in captured.err
    good = write(tmp_path / "good.jsonl", [CONVERSATIONAL])
    assert main(["data", "validate", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_preference_versions_share_the_versions_store(project):
    pairs = [
        PreferencePair(
            ({"role": "user", "content": f"ticket {i}"},), answer(f"good {i}"), answer("bad")
        )
        for i in range(12)
    ]
    version = save_preference_version(project, "prefs", pairs, note="from ratings")
    assert version.kind == PREFERENCE_KIND and (version.n_train, version.n_valid) == (11, 1)
    train, valid = load_preference_pairs(version)
    assert sorted(p.chosen_text for p in train + valid) == sorted(p.chosen_text for p in pairs)
    assert [v.label for v in preference_versions(project)] == ["v1"]
    # The pages that open, edit and diff examples see chat data only; training sees both.
    assert list_versions(project) == [] and latest_version(project) is None
    assert [v.kind for v in list_versions(project, kind=None)] == [PREFERENCE_KIND]
    assert find_version(project, "v1").kind == PREFERENCE_KIND
    assert list_versions(project, kind=CHAT_KIND) == []
    with pytest.raises(DatasetHasErrors, match="same answer"):
        save_preference_version(
            project, "prefs", [PreferencePair(tuple(USER), answer("a"), answer("a"))]
        )
    assert len(list_versions(project, kind=None)) == 1


def test_ab_ratings_become_pairs_with_ties_skipped_and_counted(project):
    base, tuned = _stored_runs(project, n=4)
    set_id = create_pair_set(project, base, tuned, seed=3)
    pairs = blind_pairs(project, set_id)
    sides = revealed_sides(project, set_id)

    def pick(pair, winner):
        return "A" if sides[pair.id][0] == winner else "B"

    record_rating(project, pairs[0].id, "ana", Rating(pick(pairs[0], tuned)))
    record_rating(project, pairs[1].id, "ana", Rating(pick(pairs[1], base)))
    record_rating(project, pairs[2].id, "ana", Rating("tie"))
    # a split vote is a tie too
    record_rating(project, pairs[3].id, "ana", Rating("A"))
    record_rating(project, pairs[3].id, "ben", Rating("B"))
    rated = preference_pairs_from_ratings(project, set_id)
    assert (len(rated.pairs), rated.ties, rated.unrated) == (2, 2, 0)
    first, second = rated.pairs
    assert first.chosen_text.startswith("tuned answer") and first.rejected_text.startswith("base")
    assert second.chosen_text.startswith("base answer") and second.rejected_text.startswith("tuned")
    assert first.prompt == pairs[0].prompt


def test_a_chat_correction_becomes_a_pair(project):
    conversation_id = create_conversation(project, ChatSettings(system_prompt="Be brief."))
    one = add_turn(project, conversation_id, "ticket billing")
    save_answer(project, one.id, 0, "base", "hmm", 1, 0.1)
    two = add_turn(project, conversation_id, "ticket refund")
    save_answer(project, two.id, 0, "base", "not sure", 2, 0.1)
    conversation = load_conversation(project, conversation_id)
    pair = preference_pair_from_correction(conversation, 1, 0, '{"label": "refund"}')
    assert pair.prompt == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "ticket billing"},
        {"role": "assistant", "content": "hmm"},
        {"role": "user", "content": "ticket refund"},
    )
    assert (pair.chosen_text, pair.rejected_text) == ('{"label": "refund"}', "not sure")
    with pytest.raises(ValueError, match="model's own answer"):
        preference_pair_from_correction(conversation, 1, 0, " not sure")
