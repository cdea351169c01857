"""The agent's command line: ``attach`` (what the console runs), ``daemon``, ``shim``."""

import argparse
import os
import sys
from typing import List, Optional

from ..protocol.wire import PROTOCOL_VERSION
from .build import build_hash
from .files import state_dir


def main(argv: Optional[List[str]] = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["slurm-task"]:  # the job's own argv follows: argparse must not read it
        from .slurm_task import task_main

        return task_main(raw[1:])
    if raw[:1] == ["slurm-gpus"]:  # one node's GPU sampler inside a Slurm job's allocation
        from .slurm_gpus import sampler_main

        return sampler_main(raw[1:])
    parser = argparse.ArgumentParser(
        prog="rdt-tui-agent", description="rdt-tui node agent (stdlib only)"
    )
    parser.add_argument(
        "--state-dir", default=None, help="state directory (default $XDG_STATE_HOME/rdt-tui)"
    )
    sub = parser.add_subparsers(dest="cmd")
    p_attach = sub.add_parser("attach", help="relay stdio to the daemon, starting it if needed")
    p_attach.add_argument(
        "--simulate-gpus", type=int, default=0, help="serve N SIMULATED GPUs instead of real ones"
    )
    p_daemon = sub.add_parser("daemon", help="run the daemon in the foreground")
    p_daemon.add_argument("--simulate-gpus", type=int, default=0)
    p_daemon.add_argument("--gpu-interval", type=float, default=1.0)
    p_shim = sub.add_parser("shim", help="(internal) supervise one run")
    p_shim.add_argument("run_dir")
    sub.add_parser("slurm-task", help="(internal) one node's task of a Slurm job: -- ARGV")
    sub.add_parser("version", help="print protocol version and build hash")
    args = parser.parse_args(argv)
    root = args.state_dir or state_dir()
    if args.state_dir:
        os.environ["RDT_TUI_STATE_DIR"] = args.state_dir
    if args.cmd == "attach":
        from .attach import run_attach

        return run_attach(root, args.simulate_gpus)
    if args.cmd == "daemon":
        from .attach import self_command
        from .daemon import run_daemon

        return run_daemon(root, self_command(), args.simulate_gpus, args.gpu_interval)
    if args.cmd == "shim":
        from .shim import run_shim

        return run_shim(args.run_dir)
    if args.cmd == "version":
        print(f"protocol {PROTOCOL_VERSION} build {build_hash()} python {sys.version.split()[0]}")
        return 0
    parser.print_help()
    return 2
