"""The preflight checklist as the console and ``rdt-tui preflight`` run it: the agent gathers
the node's facts, the rules (``core.preflight``) judge them here, and the dataset is compared
with the local copy by MD5 manifests computed on both machines at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from ..config.profiles import Profile
from ..core.manifest_diff import diff_manifests
from ..core.preflight import dataset_identity, evaluate
from ..protocol.messages import Manifest
from .agent_client import LONG_OP_S, AgentClient, AgentTimeout

Progress = Callable[[str, int, int], None]  # (which side, bytes done, bytes in all)
# A manifest whose hashing moved no byte for this long is given up (a hung disk, NFS).
MANIFEST_STALL_S = 300.0


async def run_checks(
    client: AgentClient, profile: Profile, values: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    params = profile.preflight_params(values)
    args = profile.launch_args(values)
    # A long bound: importing torch in the probe can take a while on a cold node.
    facts = await client.preflight(params, args.get("cwd"), args.get("env") or {}, timeout=300)
    devices = (facts.get("gpus") or {}).get("devices") or []
    return evaluate(facts, dict(params, _nvml_devices=len(devices) if devices else None))


async def manifest(
    client: AgentClient, path: str, glob: str = "*", progress: Progress | None = None
) -> Manifest:
    """The MD5 manifest of ``path`` on the client's host, reporting progress while it runs."""
    key = uuid.uuid4().hex
    task = asyncio.ensure_future(client.manifest(path, glob, key))
    loop = asyncio.get_running_loop()
    last_done, moved_at = -1, loop.time()
    try:
        while not task.done():
            await asyncio.wait([task], timeout=0.5)
            if task.done():
                break
            p = await client.manifest_progress(key)
            if progress is not None:
                progress(client.host, p["done"], p["total"])
            if p["done"] != last_done:
                last_done, moved_at = p["done"], loop.time()
            elif loop.time() - moved_at > MANIFEST_STALL_S:
                raise AgentTimeout(
                    f"the MD5 manifest of {path} on {client.host} made no progress for "
                    f"{MANIFEST_STALL_S:.0f}s",
                    "a disk or network filesystem may hang there; check it on the host",
                )
    finally:
        if not task.done():
            task.cancel()
    return task.result()


async def diff_dataset(
    remote: AgentClient,
    local: AgentClient,
    profile: Profile,
    progress: Progress | None = None,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """(diff, check) of the profile's dataset on the node against ``local_dataset_dir``."""
    params = profile.preflight_params()
    remote_dir, local_dir = params.get("dataset_dir"), params.get("local_dataset_dir")
    if not remote_dir or not local_dir:
        raise ValueError(
            "comparing datasets needs preflight.dataset_dir and preflight.local_dataset_dir"
        )
    cwd = profile.launch_args().get("cwd")
    if cwd and not str(remote_dir).startswith(("/", "~")):
        remote_dir = f"{cwd.rstrip('/')}/{remote_dir}"
    pattern = str(params.get("dataset_glob") or "*")
    theirs, ours = await asyncio.gather(
        manifest(remote, str(remote_dir), pattern, progress),
        manifest(local, str(local_dir), pattern, progress),
    )
    diff = diff_manifests(ours, theirs)
    return diff, dataset_identity(diff)


async def apply_fix(
    client: AgentClient,
    profile: Profile,
    check: dict[str, Any],
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send a check's fix to the agent (the statistics fix gets the profile's parameters)."""
    fix = check.get("fix")
    if not fix:
        raise ValueError(f"check {check['id']} has no fix")
    args = dict(fix.get("args") or {})
    if fix["op"] == "stats":
        args.update(
            params=profile.preflight_params(values),
            cwd=profile.launch_args(values).get("cwd"),
            env=profile.launch_args(values).get("env") or {},
            method=args.get("method", "auto"),  # the profile's own script when it has one
        )
    return dict(await client.call(fix["op"], args, timeout=LONG_OP_S))
