"""Project formats: metric lines of RDT, Diffusion Policy, GestureLSM and LIBERO, checkpoint
layouts, and the shipped profiles' command lines, argv by argv."""

from __future__ import annotations

import os
import sys

import pytest

from rdt_tui.agent.ckptscan import scan
from rdt_tui.config.profiles import ProfileError, list_profiles, load_profile
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def points(text: str, fmt: str = "auto", chunk: int = 7) -> list[tuple[str, float, int | None]]:
    """Parse ``text`` fed in ``chunk``-byte pieces (partial lines held back)."""
    splitter, parser = LineSplitter(), MetricParser(fmt)
    data = text.encode()
    out = []
    for i in range(0, len(data), chunk):
        out.extend(parser.parse_lines(splitter.feed(data[i : i + chunk])))
    out.extend(parser.parse_lines(splitter.flush()))
    return [(p.name, p.value, p.step) for p in out]


def test_rdt_bar_on_carriage_returns_and_sample_dicts() -> None:
    text = (
        "Steps:   0%|          | 1/200 [00:01<03:20, 1.00s/it, loss=0.5, lr=0.0001]\r"
        "Steps:   1%|          | 2/200 [00:02<03:18, 1.00s/it, loss=0.25, lr=5e-5]\r"
        "12/12/2024 07:07:23 - INFO - __main__ - {'agilex_sample_mse': 0.0123, "
        "'overall_avg_sample_mse': 0.02, 'note': 'x'}\n"
        "12/12/2024 07:07:24 - INFO - __main__ - Saved state to checkpoints/checkpoint-2\n"
    )
    assert points(text, "rdt") == [
        ("loss", 0.5, 1),
        ("lr", 0.0001, 1),
        ("loss", 0.25, 2),
        ("lr", 5e-5, 2),
        ("agilex_sample_mse", 0.0123, 2),
        ("overall_avg_sample_mse", 0.02, 2),
    ]


def test_rdt_format_and_auto_ignore_header_key_values() -> None:
    header = "12/12/2024 07:07:20 - INFO - __main__ -   Num examples = 50\n"
    assert points(header, "rdt") == []
    assert points(header, "auto") == []  # a header row, not a metric (issue 11)


def test_diffusion_policy_json_lines() -> None:
    text = (
        '{"train_loss": 0.5, "global_step": 10, "epoch": 0, "lr": 0.0001}\n'
        '{"train_loss": 0.4, "global_step": 11, "epoch": 0, "lr": 0.0001, "val_loss": 0.6,'
        ' "train_action_mse_error": 0.01}\n'
        '{"train_loss": 0.3, "global_st'  # a partial last line: not parsed until it ends
    )
    got = points(text, "dp")
    assert ("val_loss", 0.6, 11) in got and ("train_action_mse_error", 0.01, 11) in got
    assert [p for p in got if p[0] == "train_loss"] == [
        ("train_loss", 0.5, 10),
        ("train_loss", 0.4, 11),
    ]


def test_gesturelsm_rvq_lines_with_tabs() -> None:
    text = (
        "2024-09-09 12:00:00,000 INFO Warmup. Iter 200 :  lr 0.00010 \t Commit. 0.12345 \t "
        "PPL. 512.00 \t Recons.  0.54321\n"
        "2024-09-09 12:00:05,000 INFO Train. Iter 1200 : \t Commit. 0.10000 \t PPL. 600.50 \t "
        "Recons.  0.40000\n"
        "fid: 0.5\n"
    )
    assert points(text, "gesturelsm-rvq") == [
        ("lr", 0.0001, 200),
        ("commit", 0.12345, 200),
        ("perplexity", 512.0, 200),
        ("recons", 0.54321, 200),
        ("commit", 0.1, 1200),
        ("perplexity", 600.5, 1200),
        ("recons", 0.4, 1200),
    ]


def test_gesturelsm_generative_lines_with_colour_codes() -> None:
    text = (
        "\x1b[34m 09-09 12:00:00\x1b[0m | \x1b[1m[002][010/100]  predict_x0_loss: 0.123 "
        "lr: 0.0001\x1b[0m\n"
        " 09-09 12:01:00 | Validation Results >>>> fgd: 0.410 bc: 0.738 l1div: 12.575\n"
    )
    assert points(text, "gesturelsm") == [
        ("predict_x0_loss", 0.123, 210),
        ("lr", 0.0001, 210),
        ("epoch", 2.0, 210),
        ("val/fgd", 0.41, 210),
        ("val/bc", 0.738, 210),
        ("val/l1div", 12.575, 210),
    ]


def test_libero_epochs_with_host_prefixes_from_several_ranks() -> None:
    text = (
        "node-a: [info] Epoch:   1 | train loss:  1.50 | time: 0.90\n"
        "node-b: [info] Epoch:   1 | train loss:  1.52 | time: 0.91\n"
        "[info] Epoch:   2 | train loss:  1.20 | time: 0.88\n"
    )
    assert points(text, "libero") == [
        ("train_loss", 1.5, 1),
        ("epoch_minutes", 0.9, 1),
        ("train_loss", 1.52, 1),
        ("epoch_minutes", 0.91, 1),
        ("train_loss", 1.2, 2),
        ("epoch_minutes", 0.88, 2),
    ]


def test_interleaved_ranks_and_a_host_prefixed_bar_in_auto() -> None:
    text = (
        "gpu-a: Steps:   5%| | 10/200 [00:10<03:00, 1.0it/s, loss=0.9]\n"
        "gpu-b: Steps:   5%| | 10/200 [00:10<03:00, 1.0it/s, loss=0.9]\n"
        "gpu-a: Steps:   6%| | 11/200 [00:11<03:00, 1.0it/s, loss=0.8]\n"
    )
    got = points(text, "auto")
    assert ("loss", 0.9, 10) in got and ("loss", 0.8, 11) in got


def test_checkpoint_layouts_of_each_project(tmp_path: object) -> None:
    root = str(tmp_path)
    tree = [
        "rdt/checkpoint-1000/ema/model.safetensors",
        "rdt/checkpoint-1000/pytorch_model/mp_rank_00_model_states.pt",
        "rdt/checkpoint-2000/ema/model.safetensors",
        "dp/task-demo_clean-50-0/300.ckpt",
        "dp/task-demo_clean-50-0/600.ckpt",
        "glsm/net_1000.pth",
        "glsm/net_300000_upper.pth",
        "gen/exp/checkpoint_20/ckpt.pth",
        "gen/exp/best_fgd/ckpt.pth",
        "libero/run_001/task0_model.pth",
        "libero/run_001/multitask_model_ep20.pth",
    ]
    for rel in tree:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"x" * 100)

    def steps(sub: str, globs: list[str]) -> dict[str, int | None]:
        return {c["name"]: c["step"] for c in scan(os.path.join(root, sub), globs)}

    assert steps("rdt", ["checkpoint-*"]) == {"checkpoint-1000": 1000, "checkpoint-2000": 2000}
    rdt = scan(os.path.join(root, "rdt"), ["checkpoint-*"])
    assert rdt[0]["notable"][:2] == [
        "ema/model.safetensors",
        "pytorch_model/mp_rank_00_model_states.pt",
    ]
    assert rdt[0]["size"] == 200
    assert steps("dp", ["*/*.ckpt"]) == {
        "task-demo_clean-50-0/300.ckpt": 300,
        "task-demo_clean-50-0/600.ckpt": 600,
    }
    assert steps("glsm", ["net_*.pth"]) == {"net_1000.pth": 1000, "net_300000_upper.pth": 300000}
    assert steps("gen", ["*/checkpoint_*", "*/best_*"]) == {
        "exp/checkpoint_20": 20,
        "exp/best_fgd": None,
    }
    assert steps("libero", ["**/*_model*.pth"]) == {
        "run_001/task0_model.pth": None,
        "run_001/multitask_model_ep20.pth": 20,
    }


RDT_ARGS = [
    "--pretrained_model_name_or_path=robotics-diffusion-transformer/rdt-1b",
    "--pretrained_text_encoder_name_or_path=google/t5-v1_1-xxl",
    "--pretrained_vision_encoder_name_or_path=google/siglip-so400m-patch14-384",
    "--output_dir=./checkpoints/rdt-finetune-1b",
    "--train_batch_size=32",
    "--gradient_accumulation_steps=1",
    "--sample_batch_size=64",
    "--max_train_steps=200000",
    "--checkpointing_period=1000",
    "--sample_period=500",
    "--checkpoints_total_limit=40",
    "--lr_scheduler=constant",
    "--learning_rate=1e-4",
    "--mixed_precision=bf16",
    "--dataloader_num_workers=8",
    "--image_aug",
    "--dataset_type=finetune",
    "--state_noise_snr=40",
    "--load_from_hdf5",
    "--report_to=wandb",
]
EXPECTED_ARGV = {
    "rdt-finetune": [
        *("accelerate", "launch", "--num_processes", "8", "--mixed_precision", "bf16"),
        "main.py",
        *RDT_ARGS,
    ],
    "rdt-deepspeed": [
        *("deepspeed", "--num_gpus", "8", "main.py", "--deepspeed=./configs/zero2.json"),
        *RDT_ARGS,
    ],
    "robotwin-dp": [
        "python",
        "train.py",
        "--config-name=robot_dp_14.yaml",
        "task.name=beat_block_hammer",
        "task.dataset.zarr_path=data/beat_block_hammer-demo_clean-50.zarr",
        "training.seed=0",
        "training.device=cuda:0",
        "exp_name=beat_block_hammer-robot_dp-train",
        "logging.mode=offline",
        "setting=demo_clean",
        "expert_data_num=50",
        "head_camera_type=D435",
        "dataloader.batch_size=128",
    ],
    "gesturelsm-rvq": [
        "python",
        "rvq_beatx_train.py",
        "--batch-size",
        "256",
        "--lr",
        "2e-4",
        "--total-iter",
        "300000",
        "--lr-scheduler",
        "200000",
        "--nb-code",
        "1024",
        "--code-dim",
        "128",
        "--warm-up-iter",
        "400",
        "--print-iter",
        "200",
        "--eval-iter",
        "100",
        "--out-dir",
        "outputs/rvqvae_simple",
        "--exp-name",
        "RVQVAE",
        "--body_part",
        "upper",
    ],
    "gesturelsm-gen": [
        "python",
        "train.py",
        "--config",
        "configs_new/shortcut_rvqvae_128.yaml",
        "data.train_bs=128",
    ],
    "demo": [  # the console's own interpreter; the agent fills {run_id} in at launch
        *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes"),
        *("2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m"),
        *("rdt_tui.demo.train", "--data", "libero_demo.hdf5"),
        *("--output-dir", "checkpoints/{run_id}"),
        *("--max-steps", "600", "--batch-size", "32", "--grad-accum", "1"),
        *("--checkpoint-every", "100", "--keep", "2", "--step-delay", "0.25"),
    ],
    "libero": [
        "python",
        "libero/lifelong/main.py",
        "benchmark_name=LIBERO_OBJECT",
        "policy=bc_transformer_policy",
        "lifelong=base",
        "seed=0",
        "train.batch_size=32",
        "train.n_epochs=50",
    ],
}


def test_each_shipped_profile_loads_and_builds_its_command() -> None:
    shipped = dict(list_profiles([os.path.join(REPO, "configs", "runs")]))
    for name, argv in EXPECTED_ARGV.items():
        profile = shipped[name]
        assert not isinstance(profile, ProfileError), profile
        assert profile.launch_args()["argv"] == argv, name
    rdt = shipped["rdt-finetune"]
    assert not isinstance(rdt, ProfileError)
    four = rdt.launch_args({"processes": 4, "per_gpu_batch": 16, "gpus": ["0", "1", "2", "3"]})
    assert four["argv"][3] == "4" and "--train_batch_size=16" in four["argv"]
    assert four["env"]["CUDA_VISIBLE_DEVICES"] == "0,1,2,3" and four["metric_format"] == "rdt"
    assert set(rdt.fields()) == {
        "processes",
        "per_gpu_batch",
        "grad_accum",
        "max_steps",
        "mixed_precision",
    }
    dp = shipped["robotwin-dp"]
    assert not isinstance(dp, ProfileError) and dp.fields() == ["per_gpu_batch"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('launcher = "slurm"\nscript = "x.py"\n', "`launcher` must be one of"),
        ('launcher = "torchrun"\n', "needs `script"),
        ('command = ["x"]\nmetric_format = "nope"\n', "`metric_format` must be one of"),
        ('command = ["x"]\n[preflight]\nstate_dim = "128"\n', "`preflight.state_dim` must be"),
        ('command = ["x"]\n[form]\nprocesses = 0\n', "`form.processes`"),
    ],
)
def test_a_profile_error_names_the_file_the_key_and_what_is_expected(
    tmp_path: object, text: str, message: str
) -> None:
    path = os.path.join(str(tmp_path), "bad.toml")
    with open(path, "w") as fh:
        fh.write(text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert path in str(err.value) and message in str(err.value)
