"""What is not a metric gives no point; what is one still parses; no line ends the parser.

tests/corpus/non_metrics holds real output that is not metrics (see tests/corpus/README.md):
torch's elastic launcher stopped by SIGINT/SIGTERM under accelerate and torchrun, a failed
rank's ChildFailedError block, DeepSpeed's init and config print, NCCL_DEBUG=INFO, RDT's
logging header with accelerate's state, transformers' Trainer logging. tests/corpus/metrics
holds the metric lines of every project format, printed by the projects' own f-strings.
"""

from __future__ import annotations

import json
import os

import pytest

from rdt_tui.core.formats import FORMATS
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NON_METRICS = sorted(os.listdir(os.path.join(CORPUS, "non_metrics")))


def read(kind: str, name: str) -> str:
    with open(os.path.join(CORPUS, kind, name), encoding="utf-8") as fh:
        return fh.read()


def parse(text: str, fmt: str = "auto") -> list[tuple[str, float, int | None]]:
    splitter, parser = LineSplitter(), MetricParser(fmt)
    lines = splitter.feed(text.encode("utf-8")) + splitter.flush()
    return [(p.name, p.value, p.step) for p in parser.parse_lines(lines)]


def test_the_corpus_is_there() -> None:
    assert len(NON_METRICS) >= 9
    text = read("non_metrics", "accelerate_int.txt")
    assert "api.py:753] Received 2 death signal" in text and "got signal: 2" in text


@pytest.mark.parametrize("name", NON_METRICS)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_real_non_metric_output_gives_no_point(name: str, fmt: str) -> None:
    assert parse(read("non_metrics", name), fmt) == []


# file -> format -> the points it must give (auto gives the same).
METRICS = {
    "rdt.txt": (
        "rdt",
        [
            ("loss", 0.0974, 1),
            ("lr", 0.0001, 1),
            ("loss", 0.0974, 2),  # update(1) repaints step 2 with step 1's postfix
            ("lr", 0.0001, 2),
            ("loss", 0.0612, 2),  # ... the store keeps this one (test_metric_repaints)
            ("lr", 0.0001, 2),
            ("loss", 0.0612, 3),
            ("lr", 0.0001, 3),
            ("loss", 0.0521, 3),
            ("lr", 0.0001, 3),
            ("agilex_sample_mse", 0.0123, 3),
            ("agilex_sample_l2err", 0.0456, 3),
            ("overall_avg_sample_mse", 0.0123, 3),
            ("overall_avg_sample_l2err", 0.0456, 3),
            # accelerate's get_logger (1.x) puts `[RANK 0] ` before the message.
            ("agilex_sample_mse", 0.0098, 3),
            ("agilex_sample_l2err", 0.0321, 3),
            ("overall_avg_sample_mse", 0.0098, 3),
            ("overall_avg_sample_l2err", 0.0321, 3),
        ],
    ),
    "dp_logs_json.txt": (
        "dp",
        [
            ("train_loss", 0.00011, 92636),
            ("epoch", 299.0, 92636),
            ("lr", 1.1157351864077293e-10, 92636),
            ("train_loss", 0.0001, 92637),
            ("epoch", 299.0, 92637),
            ("lr", 1.1157351864077293e-10, 92637),
            ("train_loss", 0.000105, 92638),
            ("epoch", 299.0, 92638),
            ("lr", 1.1e-10, 92638),
            ("val_loss", 0.0003, 92638),
            ("train_action_mse_error", 0.002, 92638),
        ],
    ),
    "gesturelsm_rvq.txt": (
        "gesturelsm-rvq",
        [
            ("lr", 0.0001, 200),
            ("commit", 0.12345, 200),
            ("perplexity", 512.0, 200),
            ("recons", 0.54321, 200),
            ("commit", 0.12345, 1200),
            ("perplexity", 512.0, 1200),
            ("recons", 0.54321, 1200),
        ],
    ),
    "gesturelsm_gen.txt": (
        "gesturelsm",
        [
            ("predict_x0_loss", 0.123, 210),
            ("lr", 0.0, 210),
            ("epoch", 2.0, 210),
            ("val/fgd", 0.41, 210),
            ("val/bc", 0.738, 210),
            ("val/l1div", 12.575, 210),
        ],
    ),
    "libero.txt": (
        "libero",
        [
            ("train_loss", 1.5, 1),
            ("epoch_minutes", 0.9, 1),
            ("train_loss", 1.2, 2),
            ("epoch_minutes", 0.88, 2),
        ],
    ),
}
AUTO_ONLY = {
    "plain_prints.txt": [
        ("loss", 0.5, 10),
        ("grad_norm", 1.25, 10),
        ("val_loss", 0.3, 10),
        ("acc", 0.91, 10),
        ("loss", 0.25, 20),  # after logging's `INFO:__main__:` prefix
        ("loss", 0.125, 30),
    ],
    "deepspeed_progress.txt": [
        ("skipped", 0.0, 0),
        ("skipped", 0.0, 2),
        ("skipped", 0.0, 4),
        ("RunningAvgSamplesPerSec", 1759.9093674604007, 4),
        ("CurrSamplesPerSec", 1516.8740081939804, 4),
    ],
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_lines_of_every_format_still_parse(name: str) -> None:
    fmt, want = METRICS[name]
    text = read("metrics", name)
    assert parse(text, fmt) == want
    assert parse(text, "auto") == want


@pytest.mark.parametrize("name", sorted(AUTO_ONLY))
def test_plain_prints_and_deepspeed_progress_parse_in_auto(name: str) -> None:
    assert parse(read("metrics", name)) == AUTO_ONLY[name]


@pytest.mark.parametrize("junk", NON_METRICS)
def test_metric_lines_after_real_junk_give_exactly_their_points(junk: str) -> None:
    for name, (fmt, want) in METRICS.items():
        text = read("non_metrics", junk) + "\n" + read("metrics", name)
        assert parse(text, "auto") == want, (junk, name)
        assert parse(text, fmt) == want, (junk, name)


def test_the_shutdown_lines_of_the_issue_and_what_must_stay_metrics() -> None:
    assert parse("W1201 14:55:10.349000 13716 torch/distributed/elastic/agent/server/api.py:753]"
                 " Received 2 death signal, shutting down workers\n") == []  # fmt: skip
    for junk in (
        "torch.distributed.elastic.multiprocessing.api.SignalException: Process 1 got signal: 2",
        "  Num examples = 50",
        "Local process index: 1",
        "[INFO|trainer.py:1619] 2026-12-01 14:58:51,284 >>   Num examples = 16",
        "  exitcode  : 1 (pid: 14244)",
        "listening on localhost:29500",
        "[config.py:678:print]   train_batch_size ............. 32",
        "  min_nodes : 1",  # torchrun's launch config dump
        "Gradient Accumulation steps = 1",  # not a step either
    ):
        assert parse(junk + "\n") == [], junk
    # Junk written after a bar on stderr shares the bar's line; it is screened all the same.
    bar = "Steps: 4/10 [00:01<00:01, 1.0it/s, loss=0.5]"
    for junk in (
        "W1201 14:55:10.349000 13716 torch/distributed/run.py:874] Received 2 death signal",
        "node7:41200:41310 [0] NCCL INFO init.cc:1080 seconds: cudaHostAlloc=4.1e-05",
        "[INFO|trainer.py:4149] 2026-12-01 14:58:51,456 >> Saving model checkpoint to /out",
    ):
        assert parse(bar + junk + "\n") == [("loss", 0.5, 4)], junk
    for line, want in (
        ("loss:0.35", [("loss", 0.35, None)]),  # no space, but not an integer: a value
        ("val/loss: 3", [("val/loss", 3.0, None)]),
        ("train/loss=0.5 step=7", [("train/loss", 0.5, 7)]),
        ("loss = 0.3", [("loss", 0.3, None)]),  # print("loss =", loss)
        ("epoch 3 train loss: 0.25", [("loss", 0.25, None)]),
    ):
        assert parse(line + "\n") == want, line


ABSURD = [
    "step=100000000000000000000 loss=0.5",
    "step=1e400 loss=0.5",
    "step=nan loss=0.5",
    '{"step": NaN, "loss": 0.5}',
    '{"global_step": Infinity, "loss": 0.5}',
    '{"step": 1e300, "loss": 0.5}',
    "Steps: 1%| | 99999999999999999999999/2 [00:01<00:01, 1.0it/s, loss=0.5]",
    "Train. Iter 99999999999999999999999 : \t Commit. 0.1 \t PPL. 1.0 \t Recons.  0.1",
    "[999999999999999999][999999999999/999999999999]  loss: 0.1",
    "[info] Epoch: 99999999999999999999999 | train loss:  1.50 | time: 0.90",
    "step=" + "9" * 5000 + " loss=0.5",
    '{"step": ' + "9" * 5000 + ', "loss": 0.5}',
    "{'x_sample_mse': " + "9" * 5000 + "}",
    "step=" + "1" * 17 + " loss=0.5",
]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_absurd_steps_and_values_are_rejected_never_raised(fmt: str) -> None:
    parser = MetricParser(fmt)
    parser.parse_lines(["step=5 loss=0.25", "Steps: 1%| | 5/9 [00:01<00:01, loss=0.25]"])
    start = parser.last_step
    for line in ABSURD:
        assert parser.parse_lines([line]) == [], line
        assert parser.last_step == start, line
    # An integer no float can hold: that value is dropped, the line's other values stay.
    huge = parser.parse_lines([json.dumps({"step": 3, "loss": 10**400, "lr": 0.5})])
    assert huge == ([("lr", 0.5, 3)] if fmt in ("auto", "json", "dp") else [])
    after = parser.parse_lines(["step=6 loss=0.125", '{"step": 7, "loss": 0.0625}'])
    if fmt in ("auto", "json", "dp"):
        assert after[-1] == ("loss", 0.0625, 7)  # the parser goes on after them
