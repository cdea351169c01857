"""What a checkpoint's name says: its step, and which files inside it matter."""

import re
from typing import Optional, Tuple

DEFAULT_GLOBS: Tuple[str, ...] = (
    "checkpoint-*",  # RDT (accelerate / DeepSpeed state, ema/)
    "checkpoint_*",  # GestureLSM generative (checkpoint_<epoch>/ckpt.pth)
    "best_*",  # GestureLSM best_<metric>/
    "*.ckpt",  # Diffusion Policy <epoch>.ckpt
    "*.pth",  # GestureLSM net_<iter>.pth, LIBERO *_model.pth
    "*.safetensors",
)
# Names that carry no step although they hold digits or look like one.
_NO_STEP = re.compile(r"^(?:best_.*|latest\.ckpt|task\d+_model\.pth|multitask_model\.pth)$")

# Files a user looks for inside a checkpoint directory, most useful first.
NOTABLE_FILES: Tuple[str, ...] = (
    "ema/model.safetensors",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model/mp_rank_00_model_states.pt",
    "ckpt.pth",
)

_STEP_PATTERNS = (
    re.compile(r"checkpoint[-_](\d+)"),
    re.compile(r"(?:^|[_-])(?:step|iter|ep|epoch)[-_]?(\d+)"),
    re.compile(r"net_(\d+)"),
    re.compile(r"^(\d+)\.(?:ckpt|pth|pt|safetensors)$"),
    re.compile(r"(\d+)(?!.*\d)"),
)


def step_from_name(name: str) -> Optional[int]:
    """The training step a checkpoint's file or directory name encodes, if any."""
    if _NO_STEP.match(name):
        return None
    for pattern in _STEP_PATTERNS:
        match = pattern.search(name)
        if match:
            return int(match.group(1))
    return None
