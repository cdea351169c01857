"""One layer at a time: the alert rules (core), the webhook formats and URL masking, the
bounded alert log, and the [notify] / [alerts] tables of settings and profiles."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from rdt_tui.agent.alertlog import AlertLog
from rdt_tui.agent.notify import (
    check_notify,
    load_node_config,
    mask_url,
    payload,
    save_node_config,
)
from rdt_tui.core.alerts import (
    DEFAULT_RULES,
    StallWatch,
    checkpoint_does_not_fit,
    fatal_word,
    full_before_next_checkpoint,
    merge_rules,
    near_time_limit,
    nonfinite_label,
)


def test_stall_waits_for_the_first_step_then_uses_max_of_floor_and_median_gap() -> None:
    w = StallWatch(min_s=600.0, factor=5.0)
    assert w.silent_for(10_000.0) is None  # no step yet: loading data is not a stall
    for t in range(0, 2000, 200):  # a step every 200 s: 5 x 200 = 1000 s > the 600 s floor
        w.feed(float(t))
    last = 1800.0
    assert w.silent_for(last + 999) is None
    assert w.silent_for(last + 1000) == 1000
    fast = StallWatch(min_s=600.0, factor=5.0)
    for t in range(10):
        fast.feed(float(t))  # a step a second: the floor rules
    assert fast.silent_for(9 + 599) is None and fast.silent_for(9 + 600) == 600


def test_small_rules() -> None:
    assert fatal_word("x\nRuntimeError: NCCL error\n") == "NCCL"
    assert fatal_word("step=3 loss=0.2") is None
    assert (nonfinite_label(float("nan")), nonfinite_label(float("-inf"))) == ("NaN", "Inf")
    assert nonfinite_label(1e308) is None
    assert checkpoint_does_not_fit([5e9, 6e9], 5e9) and not checkpoint_does_not_fit([6e9], 7e9)
    assert not checkpoint_does_not_fit([], 1.0)
    # Checkpoints every 1000 s, the last at t=5000: the next is due at 6000.
    times = [3000.0, 4000.0, 5000.0]
    assert full_before_next_checkpoint(900.0, times, now=5050.0)
    assert not full_before_next_checkpoint(1000.0, times, now=5050.0)
    assert not full_before_next_checkpoint(10.0, [5000.0], now=5050.0)  # no interval known
    assert near_time_limit(60.0, 1800.0) and not near_time_limit(None, 1800.0)


def test_merge_rules_takes_known_keys_and_names_the_bad_ones() -> None:
    rules, problems = merge_rules(DEFAULT_RULES, {"stall_min_s": 30, "spike": False})
    assert rules["stall_min_s"] == 30.0 and rules["spike"] is False and problems == []
    assert DEFAULT_RULES["stall_min_s"] == 600.0  # the defaults are not changed
    rules, problems = merge_rules(
        DEFAULT_RULES, {"stall_min": 3, "idle": "yes", "idle_after_s": True, "loss_names": [1]}
    )
    assert len(problems) == 4 and "stall_min" in problems[0]
    assert rules["idle"] is True and rules["idle_after_s"] == 300.0
    assert merge_rules(DEFAULT_RULES, 3)[1] == ["[alerts] must be a table of rule = value"]


def test_mask_url_keeps_scheme_and_host_only() -> None:
    secret = "https://user:pw@hooks.slack.com:8443/services/T0/B1/XYZ?token=abc#frag"
    masked = mask_url(secret)
    assert masked == "https://hooks.slack.com:8443/…"
    for part in ("user", "pw", "services", "XYZ", "abc", "frag"):
        assert part not in masked


def test_payload_formats() -> None:
    alert = {"t": 0, "host": "gpu1", "run": "r1", "kind": "exit", "severity": "error"}
    alert["message"] = "exited with code 1"
    body, headers = payload("slack", alert)
    assert set(json.loads(body)) == {"text"} and headers["Content-Type"] == "application/json"
    body, _ = payload("discord", dict(alert, message="x" * 5000))
    assert len(json.loads(body)["content"]) == 2000
    body, headers = payload("ntfy", alert)
    assert b"exited with code 1" in body and headers["Title"] == "rdt-tui: exit on gpu1"
    assert headers["Priority"] == "high"
    body, _ = payload("generic", alert)
    doc = json.loads(body)
    assert doc["kind"] == "exit" and doc["run"] == "r1" and "gpu1 r1" in doc["text"]


def test_check_notify() -> None:
    found, _ = check_notify({"url": "https://discord.com/api/webhooks/1/x"})
    assert found is not None and found["format"] == "discord"
    assert check_notify({"url": "ftp://x/y"})[0] is None
    assert check_notify({"url": "https://x/y", "format": "teams"})[1].startswith("notify.format")


def test_node_config_shared_with_others_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    root = str(tmp_path)
    save_node_config(root, {"notify": {"url": "https://h/secret"}})
    path = os.path.join(root, "notify.json")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_node_config(root)[0]["notify"]["url"] == "https://h/secret"
    os.chmod(path, 0o644)
    data, problem = load_node_config(root)
    assert data == {} and "chmod 600" in problem and "secret" not in problem


def test_alert_log_is_bounded_skips_a_torn_line_and_keeps_counting(
    tmp_path: pytest.TempPathFactory,
) -> None:
    root = str(tmp_path)
    log = AlertLog(root, keep=10)
    for i in range(25):
        log.append({"t": float(i), "message": f"m{i}"})
    kept = log.read()
    assert [a["seq"] for a in kept] == list(range(16, 26))
    with open(log.path, "rb") as fh:
        assert len(fh.read().splitlines()) < 20  # compacted, not growing without end
    assert os.stat(log.path).st_mode & 0o777 == 0o600
    with open(log.path, "ab") as fh:
        fh.write(b'{"seq": 26, "t": 9')  # a crash mid-append
    again = AlertLog(root, keep=10)
    assert again.last_seq == 25
    assert again.append({"t": 30.0})["seq"] == 26
    assert [a["seq"] for a in again.read(since_t=24.0)] == [25, 26]
    assert again.seen() == 0
    again.mark_seen()
    assert [a["seq"] for a in again.read(since_seq=again.seen())] == []


def test_settings_keep_notify_and_alerts_when_the_theme_is_saved(workdir: str) -> None:
    from rdt_tui.config.settings import SettingsError, load_settings, save_theme

    path = os.path.join(workdir, "settings.toml")
    with open(path, "w") as fh:
        fh.write(
            textwrap.dedent(
                """
                theme = "rdt-dark"
                [notify]
                url = "https://ntfy.example.org/my-topic"
                [alerts]
                stall_min_s = 900
                loss_names = ["loss", "train/loss"]
                spike = false
                """
            )
        )
    settings = load_settings(path)
    save_theme(settings, "rdt-light")
    again = load_settings(path)
    assert again.theme == "rdt-light"
    assert again.notify == {"url": "https://ntfy.example.org/my-topic"}
    want = {"stall_min_s": 900, "loss_names": ["loss", "train/loss"], "spike": False}
    assert again.alerts == want
    assert os.stat(path).st_mode & 0o777 == 0o600  # it holds a secret
    with open(path, "w") as fh:
        fh.write("[alerts]\nstall_minutes = 3\n")
    with pytest.raises(SettingsError, match="stall_minutes"):
        load_settings(path)


def test_profile_alerts_table_is_carried_to_the_launch(workdir: str) -> None:
    from rdt_tui.config.profiles import ProfileError, load_profile

    path = os.path.join(workdir, "p.toml")
    with open(path, "w") as fh:
        fh.write('command = ["python", "train.py"]\n[alerts]\nstall_min_s = 1800\n')
    assert load_profile(path).launch_args()["alerts"] == {"stall_min_s": 1800}
    with open(path, "w") as fh:
        fh.write('command = ["python", "train.py"]\n[alerts]\nstall = 1\n')
    with pytest.raises(ProfileError, match="unknown alert rule 'stall'"):
        load_profile(path)


def test_spike_feed_many_finds_what_feed_finds_with_one_threshold_a_batch() -> None:
    from rdt_tui.core.alerts import SpikeDetector

    values = [1.0 + 0.01 * (i % 7) for i in range(300)]
    values[150] = 50.0
    values[151] = float("nan")  # its own alert, never part of the baseline
    one, many = SpikeDetector(), SpikeDetector()
    by_one = [i for i, v in enumerate(values) if one.feed(v)]
    by_many = []
    for start in range(0, 300, 40):  # batches as the agent gets them
        by_many += [start + i for i in many.feed_many(values[start : start + 40])]
    assert by_one == by_many == [150]
    assert 50.0 not in many.recent
