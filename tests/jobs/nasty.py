"""A job that does the nasty things at once, for the soak test (issue 11's "done when").

    python nasty.py SECONDS NAMES PIDS_FILE TRUNCATE_AT

For SECONDS it prints a step line (`step=N loss=...`) about 50 times a second, and on the way:
a line of 40 per-task metrics every fifth step, cycling through NAMES distinct names (a
per-task success dump); an absurd step (`step=1e20` spelt out) and a NaN step in JSON; a
3 MB line written without its newline for half a second; a second log, `train.log`,
copy-truncated TRUNCATE_AT seconds in (what logrotate's copytruncate does) beside
`train.full.log`, its never-truncated twin that the test parses as the reference; and two
processes that escape the run's marker (one under `env -i`, one re-executed without the
marker in a session of its own), whose pids go to PIDS_FILE so the test can check that stop
reached them.
"""

import os
import subprocess
import sys
import time

seconds, names, pids_file = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
truncate_at = float(sys.argv[4])

SLEEPER = "import time\nwhile True: time.sleep(1)"
clean = subprocess.Popen(["env", "-i", sys.executable, "-c", SLEEPER])
unmarked = {k: v for k, v in os.environ.items() if k != "RDT_TUI_RUN"}
reexec = subprocess.Popen([sys.executable, "-c", SLEEPER], env=unmarked, start_new_session=True)
with open(pids_file + ".tmp", "w") as fh:
    fh.write(f"{clean.pid} {reexec.pid}\n")
os.replace(pids_file + ".tmp", pids_file)

log = open("train.log", "a")  # noqa: SIM115 (kept open, as a trainer's file handler is)
full = open("train.full.log", "a")  # noqa: SIM115
start = time.monotonic()
end = start + seconds
step = 0
truncated = False
while time.monotonic() < end:
    step += 1
    print(f"step={step} loss={1.0 / step:.6f}", flush=True)
    if step % 5 == 0:
        dump = " ".join(f"task{(step * 40 + k) % names}_sr={k % 10 / 10}" for k in range(40))
        print(f"step={step} {dump}", flush=True)
    if step == 20:
        print("step=100000000000000000000 loss=0.5", flush=True)
    if step == 30:
        print('{"step": NaN, "loss": 1.0}', flush=True)
    if step == 40:
        sys.stdout.write("x" * 3_000_000)
        sys.stdout.flush()
        time.sleep(0.5)
        print(flush=True)
    line = f"step={step} val_loss={2.0 / step:.6f}\n"
    log.write(line)
    log.flush()
    full.write(line)
    full.flush()
    if not truncated and time.monotonic() - start > truncate_at:
        log.truncate(0)  # the writer keeps its offset; O_APPEND makes the next write land at 0
        truncated = True
    time.sleep(0.02)
print("done", flush=True)
