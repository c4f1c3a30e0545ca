"""LLM-as-judge: an OpenAI-compatible server started here on 127.0.0.1, and a local model."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from core.evaluation.ab_pairs import (
    Rating,
    blind_pairs,
    create_pair_set,
    record_rating,
    revealed_sides,
)
from core.evaluation.ab_results import ab_summary
from core.evaluation.checks import score_answer
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import EvaluationCancelled, GenerationConfig
from core.evaluation.judge import (
    HttpJudge,
    JudgeConfig,
    JudgeError,
    LocalJudge,
    judge_messages,
    judge_pair_set,
    parse_verdict,
)
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.statistics import BETTER
from core.evaluation.store import save_eval_set, save_result


class _JudgeServer:
    """A tiny OpenAI-compatible /v1/chat/completions server; `mode` says how it behaves."""

    def __init__(self, mode: str):
        self.mode = mode
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if owner.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"model not loaded")
                    return
                if owner.mode == "slow":
                    time.sleep(1.5)
                if owner.mode == "garbage":
                    payload = b"<html>hello</html>"
                else:
                    payload = json.dumps(
                        {"choices": [{"message": {"content": owner.verdict(body)}}]}
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verdict(self, body) -> str:
        if self.mode == "first":  # a judge with pure position bias
            return 'Sure! {"winner": "A"}'
        text = body["messages"][-1]["content"]
        first = text.split("## Answer A\n", 1)[1].split("\n\n## Answer B", 1)[0]
        winner = "A" if first.startswith("tuned") else "B"
        good = {"accuracy": 5, "format": 5, "tone": 4, "completeness": 5}
        poor = {"accuracy": 2, "format": 3, "tone": 4, "completeness": 2}
        scores = {"A": good, "B": poor} if winner == "A" else {"A": poor, "B": good}
        return "Verdict:\n" + json.dumps({**scores, "winner": winner})

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def judge_server(request):
    server = _JudgeServer(getattr(request, "param", "fair"))
    yield server
    server.close()


def _pair_set(project, n=6):
    eval_set = eval_set_from_examples(
        "set",
        "memory",
        [
            {
                "messages": [
                    {"role": "user", "content": f"ticket {i}"},
                    {"role": "assistant", "content": "ref"},
                ]
            }
            for i in range(n)
        ],
    )
    set_id = save_eval_set(project, eval_set)
    run_ids = []
    for label in ("base", "tuned"):
        outputs = [
            ExampleOutput(e.index, f"{label} says {e.index}", 3, True, score_answer(e, "x"))
            for e in eval_set.examples
        ]
        result = EvalResult(
            ModelSpec(label=label, base_model="/m"), eval_set, GenerationConfig(), outputs, "t"
        )
        run_ids.append(save_result(project, set_id, result))
    return create_pair_set(project, *run_ids, seed=5), run_ids


def test_http_judge_judges_both_orders_and_agrees_with_humans(project, judge_server):
    pair_set, (_, tuned) = _pair_set(project)
    for pair in blind_pairs(project, pair_set):
        tuned_side = "A" if revealed_sides(project, pair_set)[pair.id][0] == tuned else "B"
        record_rating(project, pair.id, "ana", Rating(tuned_side))
    judge = HttpJudge(
        JudgeConfig(kind="http", base_url=judge_server.url, api_key="k", model_name="m")
    )
    progress = []
    assert judge_pair_set(project, pair_set, judge, lambda f, m: progress.append(f)) == 6
    assert progress[-1] == 1.0
    assert len(judge_server.requests) == 12  # every pair in both orders
    request = judge_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer k"
    assert request["body"]["temperature"] == 0 and request["body"]["model"] == "m"
    summary = ab_summary(project, pair_set).judges[0]
    assert summary.judge.startswith("judge:m @ http://127.0.0.1")
    assert summary.n_judged == 6 and summary.unreadable == 0
    assert summary.position_consistency.value == 1.0
    assert summary.win_rates.wins_b == 6 and summary.win_rates.verdict == BETTER
    assert summary.agreement_with_humans == 1.0 and summary.agreement_with_humans_n == 6
    # Already judged pairs are skipped when judging again.
    assert judge_pair_set(project, pair_set, judge) == 0


@pytest.mark.parametrize("judge_server", ["first"], indirect=True)
def test_position_bias_is_cancelled_by_judging_both_orders(project, judge_server):
    pair_set, _ = _pair_set(project)
    judge = HttpJudge(JudgeConfig(kind="http", base_url=judge_server.url))
    judge_pair_set(project, pair_set, judge)
    summary = ab_summary(project, pair_set).judges[0]
    assert summary.position_consistency.value == 0.0
    assert summary.win_rates.ties == 6 and summary.win_rates.wins_a == summary.win_rates.wins_b == 0


@pytest.mark.parametrize(
    ("judge_server", "message"),
    [("error", "HTTP 500"), ("garbage", "OpenAI chat format"), ("slow", "did not answer within")],
    indirect=["judge_server"],
)
def test_http_failures_are_clear(judge_server, message):
    judge = HttpJudge(JudgeConfig(kind="http", base_url=judge_server.url, timeout_s=0.5))
    with pytest.raises(JudgeError, match=message):
        judge.complete([{"role": "user", "content": "hi"}])


def test_unreachable_server_says_so():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    judge = HttpJudge(JudgeConfig(kind="http", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2))
    with pytest.raises(JudgeError, match="Could not reach the judge"):
        judge.complete([{"role": "user", "content": "hi"}])


def test_judge_config_is_validated():
    with pytest.raises(ValueError, match="base URL"):
        JudgeConfig(kind="http", base_url="localhost:8080")
    with pytest.raises(ValueError, match="model folder"):
        JudgeConfig(kind="local")


@pytest.mark.parametrize(
    ("text", "pick"),
    [
        ('{"A": {"accuracy": 4}, "B": {"accuracy": 2}, "winner": "A"}', "A"),
        ('Here you go: {"winner": "tie"} thanks', "tie"),
        ("Winner: B", "B"),
        ("I think answer A is better.", "A"),
        ("no idea", None),
    ],
)
def test_verdicts_are_read_tolerantly(text, pick):
    assert parse_verdict(text).pick == pick


def test_scores_are_clamped_to_the_rubric():
    rating = parse_verdict('{"A": {"accuracy": 9, "tone": 0}, "B": {"format": "x"}, "winner": "A"}')
    assert rating.scores == {"A": {"accuracy": 5, "tone": 1}}


def test_rubric_names_every_dimension_and_the_reference():
    messages = judge_messages(({"role": "user", "content": "q"},), "the ref", "one", "two")
    assert all(d in messages[0]["content"] for d in ("accuracy", "format", "tone", "completeness"))
    assert "the ref" in messages[1]["content"] and "## Answer B\ntwo" in messages[1]["content"]


def test_local_model_judge_stores_a_verdict_for_every_order(project, tiny_model_dir):
    pair_set, _ = _pair_set(project, n=2)
    judge = LocalJudge(JudgeConfig(kind="local", model_path=str(tiny_model_dir), max_tokens=8))
    try:
        assert judge_pair_set(project, pair_set, judge) == 2
        with pytest.raises(EvaluationCancelled):
            judge_pair_set(project, pair_set, judge, cancelled=lambda: True, skip_judged=False)
    finally:
        judge.close()
    rows = (
        project.connection()
        .execute("SELECT presented, pick FROM evaluation_ratings WHERE rater_kind = 'judge'")
        .fetchall()
    )
    # The random tiny model writes no readable verdict; its pick comes from likelihoods.
    assert sorted(r[0] for r in rows) == ["AB", "AB", "BA", "BA"]
    assert all(r[1] in ("A", "B", "tie") for r in rows)
