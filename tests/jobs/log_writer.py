"""A stand-in training job: 1000 log lines/s, as tqdm updates on \\r, key=value and JSON lines.

    python log_writer.py SECONDS [STOP_FLAG]

Writes in bursts of 50 lines every 50 ms for at least SECONDS, and then, when STOP_FLAG is
given, until that file exists. Used by the re-attach test and the agent CPU benchmark.
"""

import os
import sys
import time


def burst(step: int) -> str:
    """The 50 lines after ``step``: every 10th a JSON line, every 3rd key=value, the rest
    tqdm bars on \\r (also fed in process by benchmarks/live_parse_cpu.py)."""
    lines = []
    for k in range(50):
        step += 1
        if k % 10 == 0:
            lines.append(f'{{"val_loss": {1.0 / step:.5f}, "global_step": {step}}}\n')
        elif k % 3 == 0:
            lines.append(f"step={step} loss={1.0 / step:.6f} grad_norm={k / 7:.3f}\n")
        else:
            lines.append(
                f"Steps: {step % 100}%|##| {step}/99999 [00:01<00:09, 9.9it/s, "
                f"loss={2.0 / step:.6f}, lr=0.0001]\r"
            )
    return "".join(lines)


def main() -> None:
    seconds = float(sys.argv[1])
    flag = sys.argv[2] if len(sys.argv) > 2 else None
    out = sys.stdout
    step = 0
    t0 = time.monotonic()
    burst_no = -1
    while burst_no < seconds * 20 or (flag is not None and not os.path.exists(flag)):
        burst_no += 1
        out.write(burst(step))
        step += 50
        out.flush()
        time.sleep(max(0.0, t0 + (burst_no + 1) * 0.05 - time.monotonic()))


if __name__ == "__main__":
    main()
