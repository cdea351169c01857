"""The demo trainer: a small denoiser of action chunks conditioned on the robot state.

Run it with accelerate (two real processes on CPU need ``ACCELERATE_USE_CPU=1 accelerate
launch --multi_gpu --num_processes 2``). It prints a tqdm bar ``Steps: ... n/total [...,
loss=..., lr=...]`` the way RDT does, saves ``checkpoint-<step>/`` with
``accelerator.save_state`` plus ``ema/model.safetensors``, and keeps only the newest K.
With ``--report_to tensorboard`` (RDT's flag) accelerate's tracker also writes each step's exact
loss and learning rate to ``<output-dir>/<logging_dir>/demo/events.out.tfevents.*``.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import shutil
import signal
import time

import h5py
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm


def load_windows(path: str, chunk: int) -> TensorDataset:
    """(state, action chunk) pairs from every demo: state = joints + gripper at t."""
    states, chunks = [], []
    with h5py.File(path, "r") as f:
        for name in sorted(f["data"].keys()):
            demo = f["data"][name]
            joints = demo["obs/joint_states"][:]
            gripper = demo["obs/gripper_states"][:]
            actions = demo["actions"][:]
            state = np.concatenate([joints, gripper], axis=1)
            for t in range(0, len(actions) - chunk):
                states.append(state[t])
                chunks.append(actions[t : t + chunk].reshape(-1))
    return TensorDataset(
        torch.tensor(np.array(states), dtype=torch.float32),
        torch.tensor(np.array(chunks), dtype=torch.float32),
    )


class Denoiser(nn.Module):
    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim + action_dim + 16, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, action_dim),
        )

    def forward(self, state: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        freqs = torch.arange(8, device=t.device, dtype=t.dtype)
        emb = torch.cat([torch.sin(t[:, None] * 2**freqs), torch.cos(t[:, None] * 2**freqs)], dim=1)
        return self.net(torch.cat([state, noisy, emb], dim=1))


def prune(output_dir: str, keep: int) -> None:
    """Keep only the newest ``keep`` checkpoint-<step> directories (really delete the rest)."""
    found = []
    for name in os.listdir(output_dir):
        if name.startswith("checkpoint-") and name[len("checkpoint-") :].isdigit():
            found.append((int(name[len("checkpoint-") :]), name))
    for _, name in sorted(found)[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="rdt-tui demo trainer")
    p.add_argument("--data", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--keep", type=int, default=2, help="checkpoints to keep")
    p.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per step, so a demo run lasts long enough to watch",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument(
        "--resume_from_checkpoint",
        help="a checkpoint-N directory to continue from (RDT's flag): state, EMA and step N",
    )
    p.add_argument(
        "--report_to",
        choices=("none", "tensorboard"),
        default="none",
        help="tensorboard: accelerate's tracker writes each step's loss and lr (RDT's flag)",
    )
    p.add_argument("--logging_dir", default="logs", help="under --output-dir (RDT's flag)")
    args = p.parse_args(argv)

    tracking = args.report_to != "none"
    accelerator = Accelerator(
        gradient_accumulation_steps=args.grad_accum,
        log_with=args.report_to if tracking else None,
        project_dir=os.path.join(args.output_dir, args.logging_dir) if tracking else None,
    )
    if tracking:
        accelerator.init_trackers("demo", config={"lr": args.lr, "batch_size": args.batch_size})
    set_seed(args.seed)
    data = load_windows(args.data, args.chunk)
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = Denoiser(data.tensors[0].shape[1], data.tensors[1].shape[1])
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    # accelerate steps a prepared scheduler once per process per optimizer step.
    total = args.max_steps * accelerator.num_processes
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.45 * (1 + math.cos(math.pi * min(s, total) / total))
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    os.makedirs(args.output_dir, exist_ok=True)
    accelerator.print(
        f"***** Running training *****  {accelerator.num_processes} processes, "
        f"{len(data)} examples, total batch {args.batch_size * accelerator.num_processes}"
    )

    step = 0
    if args.resume_from_checkpoint:
        path = args.resume_from_checkpoint
        if not os.path.isabs(path):
            path = os.path.join(args.output_dir, os.path.basename(path))
        accelerator.print(f"Resuming from checkpoint {path}")
        accelerator.load_state(path)
        step = int(os.path.basename(path.rstrip("/")).rsplit("-", 1)[1])
        ema_file = os.path.join(path, "ema", "model.safetensors")
        if os.path.exists(ema_file):
            ema.load_state_dict(load_file(ema_file))
    bar = tqdm(range(args.max_steps), initial=step, disable=not accelerator.is_local_main_process)
    bar.set_description("Steps")
    while step < args.max_steps:
        for state, actions in loader:
            noise = torch.randn_like(actions)
            t = torch.rand(actions.shape[0], device=actions.device)
            alpha = torch.cos(t * math.pi / 2)[:, None]
            noisy = alpha * actions + (1 - alpha**2).sqrt() * noise
            with accelerator.accumulate(model):
                loss = nn.functional.mse_loss(model(state, noisy, t), noise)
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue  # a micro-batch of an accumulation: not yet an optimizer step
            with torch.no_grad():
                for e, m in zip(ema.parameters(), accelerator.unwrap_model(model).parameters()):
                    e.mul_(0.99).add_(m.detach(), alpha=0.01)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4g}", lr=f"{scheduler.get_last_lr()[0]:.3g}")
            if tracking:
                # Exact values (the bar rounds them), at the optimizer step.
                accelerator.log({"loss": loss.item(), "lr": scheduler.get_last_lr()[0]}, step=step)
            if step % args.checkpoint_every == 0 or step == args.max_steps:
                path = os.path.join(args.output_dir, f"checkpoint-{step}")
                accelerator.save_state(path)
                if accelerator.is_main_process:
                    os.makedirs(os.path.join(path, "ema"), exist_ok=True)
                    save_file(
                        {k: v.contiguous() for k, v in ema.state_dict().items()},
                        os.path.join(path, "ema", "model.safetensors"),
                    )
                    accelerator.print(f"Saved state to {path}")
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    prune(args.output_dir, args.keep)
            if args.step_delay:
                time.sleep(args.step_delay)
            if step >= args.max_steps:
                break
    bar.close()
    accelerator.wait_for_everyone()
    accelerator.print("training finished")
    accelerator.end_training()
    return 0


def _stopped(signum: int, frame: object) -> None:
    """`s` or `rdt-tui stop`: SIGINT first, a stop and not a crash. A second one (the
    launcher's) is ignored from here on, before anything else runs: ignored only once the
    first was being handled, it could land inside that handling and print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _stopped)
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ntraining stopped (SIGINT)", flush=True)  # on a line of its own, after the bar
        raise SystemExit(130) from None
