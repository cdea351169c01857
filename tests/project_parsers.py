"""The command-line parsers of the training scripts our shipped profiles launch, rebuilt from
reading each project's source: only the arguments the profiles pass (and the ones whose
prefixes could collide with them, since argparse accepts abbreviations), with the same
names, types, actions and nargs. Each names the file and commit it mirrors.

Used by tests/test_resume_placement.py: our argv goes through ``parse_args`` and the resume
path must come out in the attribute the script reads. Not the projects' code: a minimal
reproduction of the parts that decide where a flag is read.
"""

from __future__ import annotations

import argparse


def rdt_main() -> argparse.ArgumentParser:
    """thu-ml/RoboticsDiffusionTransformer ``main.py`` ``parse_args`` at deb71d82278780d83253a
    28d9b904085559be400. Only options, no positional: a flag is read wherever it stands.
    ``train/train.py`` then takes ``os.path.basename(args.resume_from_checkpoint)`` under
    ``--output_dir`` (or ``latest``)."""
    p = argparse.ArgumentParser()
    for name in (
        "--config_path",
        "--deepspeed",
        "--pretrained_text_encoder_name_or_path",
        "--pretrained_vision_encoder_name_or_path",
        "--output_dir",
        "--resume_from_checkpoint",
        "--pretrained_model_name_or_path",
        "--lr_scheduler",
        "--report_to",
        "--dataset_type",
    ):
        p.add_argument(name, type=str)
    for name in (
        "--train_batch_size",
        "--sample_batch_size",
        "--max_train_steps",
        "--checkpointing_period",
        "--checkpoints_total_limit",
        "--gradient_accumulation_steps",
        "--dataloader_num_workers",
        "--sample_period",
        "--local_rank",
    ):
        p.add_argument(name, type=int)
    for name in ("--learning_rate", "--state_noise_snr"):
        p.add_argument(name, type=float)
    for name in ("--load_from_hdf5", "--image_aug", "--precomp_lang_embed"):
        p.add_argument(name, action="store_true")
    p.add_argument("--mixed_precision", type=str, choices=["no", "fp16", "bf16"])
    return p


def gesturelsm_train() -> argparse.ArgumentParser:
    """GestureLSM ``train.py`` ``prepare_all`` at fe124e04afe65886e9843abb2d0f4d1acd1f3394
    (upstream author commit, read in the fork ycyentropy/GestureLSM). The overrides are
    ``nargs=argparse.REMAINDER``: everything from the first override on, flags included,
    lands in ``overrides``; ``--resume`` is read only before it."""
    p = argparse.ArgumentParser()
    p.add_argument("--config", type=str, default="./configs/intention_w_distill.yaml")
    p.add_argument("--resume", type=str, default=None)
    p.add_argument("--debug", action="store_true")
    p.add_argument("--mode", type=str, choices=["train", "test"], default="train")
    p.add_argument("--checkpoint", "--ckpt", type=str, default=None)
    p.add_argument("overrides", nargs=argparse.REMAINDER)
    return p


def gesturelsm_rvq() -> argparse.ArgumentParser:
    """GestureLSM ``rvq_beatx_train.py`` ``get_args_parser`` at fe124e04afe65886e9843abb2d0f
    4d1acd1f3394. ``--lr-scheduler`` takes ``nargs="+"``; ``--resume-pth`` and
    ``--resume-gpt`` share a prefix (so ``--resume`` alone would be ambiguous)."""
    p = argparse.ArgumentParser()
    for name in ("--batch-size", "--total-iter", "--warm-up-iter", "--code-dim", "--nb-code"):
        p.add_argument(name, type=int)
    for name in ("--print-iter", "--eval-iter"):
        p.add_argument(name, type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-scheduler", nargs="+", type=int)
    p.add_argument("--body_part", type=str, default="whole")
    p.add_argument("--resume-pth", type=str, default=None)
    p.add_argument("--resume-gpt", type=str, default=None)
    p.add_argument("--out-dir", type=str)
    p.add_argument("--exp-name", type=str)
    return p


def rdt_tui_demo() -> argparse.ArgumentParser:
    """Our own ``rdt_tui/demo/train.py`` ``main`` (this repository)."""
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--output-dir", required=True)
    for name in ("--max-steps", "--batch-size", "--chunk", "--checkpoint-every", "--keep"):
        p.add_argument(name, type=int)
    for name in ("--seed", "--grad-accum"):
        p.add_argument(name, type=int)
    for name in ("--lr", "--step-delay"):
        p.add_argument(name, type=float)
    p.add_argument("--resume_from_checkpoint")
    return p


# Shipped profile -> (the parser of the script it runs, the attribute the script reads the
# checkpoint from). A shipped profile with `resume_args` must be listed here.
RESUME_READERS = {
    "rdt-finetune": (rdt_main, "resume_from_checkpoint"),
    "rdt-deepspeed": (rdt_main, "resume_from_checkpoint"),
    "gesturelsm-gen": (gesturelsm_train, "resume"),
    "gesturelsm-rvq": (gesturelsm_rvq, "resume_pth"),
    "demo": (rdt_tui_demo, "resume_from_checkpoint"),
}

# Shipped profiles whose trainer has no resume that reads a path we could give, so their
# profile has no `resume_args` and a resume is refused:
# - robotwin-dp: RoboTwin-Platform/RoboTwin stable_2.0 (13c3c47f) policy/DP/train.py is a
#   Hydra app; the workspace resumes only from <hydra run dir>/checkpoints/latest.ckpt, which
#   it never writes, in a run directory that is new at every launch.
# - libero: Lifelong-Robot-Learning/LIBERO (8f1084e3) libero/lifelong/main.py is a Hydra app;
#   configs/train/default.yaml declares train.resume / train.resume_path, but no code reads
#   them.
# - example: a demonstration command.
NO_RESUME = ("robotwin-dp", "libero", "example")
