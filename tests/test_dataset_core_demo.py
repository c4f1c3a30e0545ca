"""The shipped support-tickets dataset and the demo project's v1."""

from __future__ import annotations

import json

import jsonschema

from core.dataset.demo import DEMO_DATASET_NAME, demo_dataset, demo_eval_set_path, populate
from core.dataset.validation import validate_dataset
from core.dataset.versions import list_versions
from resources.datasets import generate_support_tickets as tickets


def test_the_committed_files_are_what_the_generator_writes():
    train, evaluation = tickets.generate()
    assert tickets.TRAIN_FILE.read_text() == tickets.render(train)
    assert tickets.EVAL_FILE.read_text() == tickets.render(evaluation)


def test_the_demo_dataset_validates_clean_and_follows_its_own_rules():
    dataset = demo_dataset()
    assert 120 <= len(dataset) <= 200
    report = validate_dataset(dataset)
    assert report.findings == [], report.findings[:3]
    schema = tickets.REPLY_SCHEMA
    systems = set()
    for example in dataset:
        system, _user, reply = example.messages
        systems.add(system["content"])
        answer = json.loads(reply["content"])
        jsonschema.validate(answer, schema)
        assert len(answer["summary"].split()) <= 15
        assert example.tags == (answer["category"],)
    assert len(systems) == 1
    assert {e.tags[0] for e in dataset} == set(tickets.CATEGORIES)


def test_the_eval_tickets_are_held_out_and_load_as_an_eval_set():
    from core.evaluation.eval_set import load_eval_set_file

    eval_set = load_eval_set_file(demo_eval_set_path())
    assert len(eval_set.examples) == tickets.N_EVAL
    training_users = {e.messages[1]["content"] for e in demo_dataset()}
    assert not any(e.prompt[-1]["content"] in training_users for e in eval_set.examples)


def test_populate_saves_v1_with_a_stratified_validation_split(project):
    version = populate(project)
    assert (version.label, version.dataset) == ("v1", DEMO_DATASET_NAME)
    assert (version.n_train, version.n_valid) == (144, 16)
    _train, valid = version.load_split()
    assert {e.tags[0] for e in valid} == set(tickets.CATEGORIES)
    assert [v.id for v in list_versions(project)] == [version.id]
