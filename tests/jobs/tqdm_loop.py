"""Real tqdm bars the ways training loops drive them, for the repaint tests.

    python tqdm_loop.py MODE STEPS [RANK]

Step k's loss is k/1000 (rank r adds r/2), three significant digits, so tqdm prints it
exactly. Bars go to stderr, prints to stdout; both unbuffered.
"""

import os
import sys
import time

from tqdm import tqdm

tqdm.monitor_interval = 0  # no monitor thread: paints come only from the loop's own calls


def loss(k: int, rank: int = 0) -> float:
    return k / 1000 + rank / 2


def main() -> None:
    mode, steps = sys.argv[1], int(sys.argv[2])
    rank = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if mode == "update_then_postfix":  # RDT's loop
        delay = float(os.environ.get("TQDM_LOOP_DELAY", "0"))  # seconds a step takes
        bar = tqdm(total=steps, desc="Steps", mininterval=0)
        for k in range(1, steps + 1):
            time.sleep(delay)
            bar.update(1)
            bar.set_postfix(loss=loss(k), lr=0.0001)
        bar.close()
    elif mode == "postfix_then_update":
        bar = tqdm(total=steps, desc="Steps", mininterval=0)
        for k in range(1, steps + 1):
            bar.set_postfix(loss=loss(k))
            bar.update(1)
        bar.close()
    elif mode == "refresh_false":  # Diffusion Policy's bar
        bar = tqdm(total=steps, desc="Training epoch 0", mininterval=0)
        for k in range(1, steps + 1):
            bar.update(1)
            bar.set_postfix(loss=loss(k), refresh=False)
        bar.close()
    elif mode == "miniters":
        bar = tqdm(total=steps, desc="Steps", mininterval=0, miniters=5)
        for k in range(1, steps + 1):
            bar.update(1)
            bar.set_postfix(loss=loss(k))
        bar.close()
    elif mode == "leave_false":
        bar = tqdm(total=steps, desc="Steps", mininterval=0, leave=False)
        for k in range(1, steps + 1):
            bar.update(1)
            bar.set_postfix(loss=loss(k))
        bar.close()
    elif mode == "epoch_around_steps":  # an epoch bar, the global step bar inside it
        epochs = tqdm(range(steps // 5), desc="Epoch", mininterval=0)
        bar = tqdm(total=steps, desc="Steps", mininterval=0, position=1)
        k = 0
        for _ in epochs:
            for _ in range(5):
                k += 1
                bar.update(1)
                bar.set_postfix(loss=loss(k))
        bar.close()
        epochs.close()
    elif mode == "stderr_bar_and_prints":  # eval results printed while the bar is up
        bar = tqdm(total=steps, desc="Steps", mininterval=0, file=sys.stderr)
        for k in range(1, steps + 1):
            bar.update(1)
            bar.set_postfix(loss=loss(k))
            if k % 4 == 0:
                print(f"eval: val_loss={loss(k) * 2:.4f}", flush=True)
        bar.close()
    elif mode == "rank":  # one of several ranks in lockstep (see two_ranks in the test)
        gate_dir = sys.argv[4]
        bar = tqdm(total=steps, desc="Steps", mininterval=0)
        for k in range(1, steps + 1):
            bar.update(1)
            bar.set_postfix(loss=loss(k, rank))
            _barrier(gate_dir, k, rank)
        bar.close()
    else:
        raise SystemExit(f"unknown mode {mode}")


def _barrier(gate_dir: str, k: int, rank: int) -> None:
    """Both ranks finish step k before either starts k+1, as an all-reduce makes them."""
    open(os.path.join(gate_dir, f"{k}.{rank}"), "w").close()
    other = os.path.join(gate_dir, f"{k}.{1 - rank}")
    deadline = time.monotonic() + 30
    while not os.path.exists(other) and time.monotonic() < deadline:
        time.sleep(0.002)


if __name__ == "__main__":
    main()
