"""Importing Alpaca, ShareGPT, CSV/TSV/Parquet and save_to_disk folders; exporting them."""

from __future__ import annotations

import json

import pytest

from core.dataset.formats import (
    CannotExport,
    ColumnMapping,
    detect_format,
    export_dataset,
    import_dataset,
    is_unreadable,
    preview_table,
)
from core.dataset.model import Dataset

ALPACA = [
    {"instruction": "Translate to French", "input": "cat", "output": "chat", "source": "t1"},
    {"instruction": "Say hi", "input": "", "output": "hi", "system": "Be brief."},
]
SHAREGPT = [
    {
        "id": "a",
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": "q1"},
            {"from": "gpt", "value": "a1", "weight": 0},
            {"from": "human", "value": "q2"},
            {"from": "gpt", "value": "a2"},
        ],
    }
]


def test_alpaca_array_becomes_messages_keeping_other_fields(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(ALPACA, indent=2))
    assert detect_format(path) == "alpaca"
    dataset = import_dataset(path)
    assert dataset.load_findings == []
    assert dataset[0].record == {
        "messages": [
            {"role": "user", "content": "Translate to French\n\ncat"},
            {"role": "assistant", "content": "chat"},
        ],
        "source": "t1",
    }
    assert dataset[1].messages[0] == {"role": "system", "content": "Be brief."}
    assert [e.line for e in dataset] == [2, 8]


def test_a_broken_record_in_a_json_array_is_reported_and_the_rest_kept(tmp_path):
    text = json.dumps(ALPACA * 2, indent=2).replace('"Say hi"', "Say hi", 1)
    path = tmp_path / "broken.json"
    path.write_text(text)
    dataset = import_dataset(path, fmt="alpaca")
    assert [f.code for f in dataset.load_findings] == ["invalid_json"]
    assert dataset.load_findings[0].line == 8
    assert [e.is_broken for e in dataset] == [False, True, False, False]


def test_sharegpt_jsonl_maps_speakers_and_keeps_message_fields(tmp_path):
    path = tmp_path / "sharegpt.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in SHAREGPT) + "\n")
    assert detect_format(path) == "sharegpt"
    example = import_dataset(path)[0]
    assert [m["role"] for m in example.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert example.messages[2] == {"role": "assistant", "content": "a1", "weight": 0}
    assert example.record["id"] == "a"


def test_csv_with_quotes_newlines_and_a_guessed_mapping(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('question,answer,team\n"What, exactly?","Two\nlines",billing\nq2,a2,x\n')
    columns, rows = preview_table(path)
    assert columns == ["question", "answer", "team"] and rows[0]["team"] == "billing"
    dataset = import_dataset(path)
    assert dataset[0].messages[1]["content"] == "Two\nlines"
    assert dataset[0].record["team"] == "billing"
    assert [e.line for e in dataset] == [2, 4]


def test_csv_needs_a_mapping_when_columns_are_not_obvious(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\tc\nx\ty\tz\n")
    dataset = import_dataset(path)
    assert [f.code for f in dataset.load_findings] == ["column_mapping"]
    mapped = import_dataset(path, mapping=ColumnMapping(prompt="a", response="c", system="b"))
    assert mapped[0].messages == [
        {"role": "system", "content": "y"},
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "z"},
    ]
    with pytest.raises(ValueError):
        ColumnMapping(prompt="a", response="a")


def test_round_trips_through_every_format_that_holds_the_data(tmp_path):
    single = Dataset.from_records(
        [
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": f'question {i}, with "quotes"'},
                    {"role": "assistant", "content": f"answer\n{i}"},
                ]
            }
            for i in range(5)
        ]
    )
    for name, fmt in (
        ("a.jsonl", "jsonl"),
        ("a.json", "alpaca"),
        ("s.json", "sharegpt"),
        ("a.csv", "csv"),
        ("a.tsv", "tsv"),
        ("a.parquet", "parquet"),
        ("hf", "hf"),
    ):
        path = tmp_path / name
        assert export_dataset(single, path, fmt=fmt) == 5
        back = import_dataset(path)
        assert back.load_findings == [], (fmt, back.load_findings)
        assert back.records() == single.records(), fmt


def test_export_refuses_what_a_format_cannot_hold_unless_allowed(tmp_path):
    multi = Dataset.from_records([json.loads(json.dumps(SHAREGPT[0]))])
    multi = import_dataset(_write(tmp_path / "m.jsonl", SHAREGPT))
    with pytest.raises(CannotExport, match="Example 1 cannot be written as alpaca"):
        export_dataset(multi, tmp_path / "out.json", fmt="alpaca")
    assert not (tmp_path / "out.json").exists()
    assert export_dataset(multi, tmp_path / "out.json", fmt="alpaca", allow_loss=True) == 0
    # sharegpt and parquet hold multi-turn conversations
    export_dataset(multi, tmp_path / "m.parquet")
    assert import_dataset(tmp_path / "m.parquet").records() == multi.records()


def _write(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


@pytest.mark.parametrize("name", ["x.jsonl", "x.parquet", "x.csv", "x.json"])
def test_unreadable_files_give_one_finding_not_an_exception(tmp_path, name):
    path = tmp_path / name
    if name != "x.json":
        path.write_bytes(b"PAR1\x00\xff garbage" if name.endswith("parquet") else b"")
    dataset = import_dataset(path)
    if name in ("x.parquet", "x.json"):
        assert is_unreadable(dataset)
        assert "cannot be read" in dataset.load_findings[0].message
    else:
        assert len(dataset) == 0


def test_parquet_dates_bytes_and_decimals_become_json_values(tmp_path):
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "prompt": ["q"],
            "response": ["a"],
            "when": [datetime.datetime(2024, 5, 1, 12, 0)],
            "blob": [b"\x00raw"],
            "price": [decimal.Decimal("9.99")],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    dataset = import_dataset(tmp_path / "t.parquet")
    record = dataset[0].record
    assert record["when"] == "2024-05-01T12:00:00" and record["price"] == 9.99
    export_dataset(dataset, tmp_path / "out.jsonl")
    assert json.loads((tmp_path / "out.jsonl").read_text())["blob"] == "\x00raw"
