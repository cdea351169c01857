"""Make a small LIBERO-like HDF5 dataset: ``data/demo_<i>/actions``, ``obs/joint_states``, ...

The layout follows LIBERO's demo files (see shared/reference/training-projects.md §3), with
smooth made-up trajectories so that a denoiser has something learnable.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def make_dataset(path: str, episodes: int = 16, steps: int = 120, seed: int = 0) -> str:
    """Write the dataset to ``path`` atomically (a temporary file renamed into place)."""
    import h5py

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        data.attrs["env_name"] = "rdt-tui-demo"
        data.attrs["problem_info"] = json.dumps({"language_instruction": "reach the target"})
        data.attrs["num_demos"] = episodes
        total = 0
        for i in range(episodes):
            t = np.linspace(0, 2 * np.pi, steps)[:, None]
            phase = rng.uniform(0, 2 * np.pi, size=(1, 7))
            freq = rng.uniform(0.5, 1.5, size=(1, 7))
            joints = 0.8 * np.sin(freq * t + phase)
            gripper = np.concatenate([np.clip(np.sin(t + phase[:, :1]), 0, 1)] * 2, axis=1)
            actions = np.concatenate(
                [np.diff(joints, axis=0, append=joints[-1:])[:, :6] * 10, gripper[:, :1] * 2 - 1],
                axis=1,
            )
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = steps
            demo.create_dataset("actions", data=actions.astype(np.float64))
            obs = demo.create_group("obs")
            obs.create_dataset("joint_states", data=joints.astype(np.float64))
            obs.create_dataset("gripper_states", data=gripper.astype(np.float64) * 0.04)
            obs.create_dataset("ee_pos", data=joints[:, :3].astype(np.float64))
            demo.create_dataset(
                "robot_states",
                data=np.concatenate([gripper * 0.04, joints[:, :3], np.zeros((steps, 4))], axis=1),
            )
            rewards = np.zeros(steps, dtype=np.uint8)
            rewards[-1] = 1
            demo.create_dataset("rewards", data=rewards)
            demo.create_dataset("dones", data=rewards.copy())
            total += steps
        data.attrs["total"] = total
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make the rdt-tui demo dataset")
    parser.add_argument("path")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--steps", type=int, default=120)
    args = parser.parse_args(argv)
    make_dataset(args.path, args.episodes, args.steps)
    print(args.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
