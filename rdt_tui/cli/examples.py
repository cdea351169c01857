"""One example per subcommand, shown at the end of its ``--help`` (a user copies it, changes
the host and the run, and it works)."""

from __future__ import annotations

import argparse

EXAMPLES = {
    "launch": "rdt-tui launch gpu-a --profile rdt-finetune --set processes=4",
    "runs": "rdt-tui runs gpu-a",
    "status": "rdt-tui status gpu-a rdt-finetune-20260101-120000",
    "logs": "rdt-tui logs gpu-a rdt-finetune-20260101-120000 --tail 200 -f",
    "metrics": "rdt-tui metrics gpu-a rdt-finetune-20260101-120000 --name loss",
    "stop": "rdt-tui stop gpu-a rdt-finetune-20260101-120000 --grace 60",
    "checkpoints": "rdt-tui checkpoints gpu-a rdt-finetune-20260101-120000",
    "watch": "rdt-tui watch gpu-a rdt-finetune-20260101-120000",
    "gpus": "rdt-tui gpus gpu-a",
    "demo": "rdt-tui demo --steps 300",
    "keys": "rdt-tui keys --json",
    "hosts": "rdt-tui hosts --json",
    "add-host": "rdt-tui add-host gpu-a --hostname node.example.org --user me --jump jump",
    "trust": "rdt-tui trust gpu-a",
    "check-host": "rdt-tui check-host gpu-a",
    "push": "rdt-tui push gpu-a ./data data",
    "pull": "rdt-tui pull gpu-a outputs/checkpoint-1000 ./checkpoints",
    "preflight": "rdt-tui preflight localhost --profile demo",
    "stats": "rdt-tui stats gpu-a --profile rdt-finetune --dry-run",
    "manifest": "rdt-tui manifest gpu-a ~/data/agilex",
    "diff-dataset": "rdt-tui diff-dataset gpu-a --profile rdt-finetune",
    "group": "rdt-tui group --profile two-nodes --set processes=8",
    "alerts": "rdt-tui alerts gpu-a",
    "queue": "rdt-tui queue login-node --json",
    "adopt": "rdt-tui adopt gpu-a --pid 4242 --log ~/rdt/train.log --profile rdt-finetune",
}


def add_examples(sub: argparse._SubParsersAction) -> None:
    """Put each subcommand's example under its --help (after an epilog it already has)."""
    for name, parser in sub.choices.items():
        example = EXAMPLES.get(name)
        if example is None or "example:" in (parser.epilog or ""):
            continue
        # argparse wraps an epilog into one paragraph: the example goes at its end.
        parser.epilog = (parser.epilog + "  " if parser.epilog else "") + f"example: {example}"
