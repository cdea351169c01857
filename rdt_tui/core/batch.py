"""Batch arithmetic that users get wrong by hand."""


def effective_batch(processes: int, per_gpu_batch: int, grad_accum: int = 1) -> int:
    """Samples per optimizer step: processes x per-GPU batch x gradient accumulation."""
    return max(processes, 0) * max(per_gpu_batch, 0) * max(grad_accum, 1)
