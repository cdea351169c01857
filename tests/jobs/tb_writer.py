"""A stand-in job that logs to TensorBoard with torch's SummaryWriter and prints a rounded loss.

    python tb_writer.py LOGDIR STEPS [RESUME_FROM [DELAY]]

Each step writes ``loss`` (exact, to the event file) and prints ``step=N loss=X`` with the loss
rounded to 3 digits (the log's copy); ``lr`` and ``val/mse`` go only to the event file. With
RESUME_FROM, a second writer continues from that step, as a job resumed from a checkpoint does
(-1: no resume). DELAY: seconds to sleep per step.
"""

import sys
import time

from torch.utils.tensorboard import SummaryWriter


def loss_at(step: int, phase: int) -> float:
    return 1.0 / (step + 1) + 0.0001234567 * phase


def main() -> None:
    logdir, steps = sys.argv[1], int(sys.argv[2])
    phases = [(0, steps)]
    if len(sys.argv) > 3 and int(sys.argv[3]) >= 0:
        phases.append((int(sys.argv[3]), steps + int(sys.argv[3])))
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    for phase, (first, last) in enumerate(phases):
        if phase:
            time.sleep(1.05)  # the writer names its file by the second
        w = SummaryWriter(logdir, max_queue=5, flush_secs=1)
        for step in range(first, last):
            loss = loss_at(step, phase)
            w.add_scalar("loss", loss, step)
            w.add_scalar("lr", 1e-4 * (1 + step % 7) * (1 + phase), step, new_style=True)
            if step % 10 == 0:
                w.add_scalar("val/mse", loss / 2, step)
            print(f"step={step} loss={loss:.3f}", flush=True)
            if delay:
                time.sleep(delay)
        w.close()


if __name__ == "__main__":
    main()
