"""`rdt-tui queue` on a host outside any Slurm cluster (a laptop, a workstation with the Slurm
client but no slurm.conf): one line saying so and where to ask, instead of squeue's four lines
of DNS SRV errors and "check Slurm on this host"."""

from __future__ import annotations

import os
import shutil

import pytest

from rdt_tui.agent import slurm
from rdt_tui.protocol.errors import AgentError


def test_no_squeue_on_the_host(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no squeue
    with pytest.raises(AgentError) as got:
        slurm.queue("me")
    assert got.value.message == "squeue not found on this host"
    assert got.value.hint == slurm.NO_CLUSTER_HINT
    assert "login node" in got.value.hint


@pytest.mark.skipif(
    shutil.which("squeue") is None or os.path.exists("/etc/slurm/slurm.conf"),
    reason="needs the Slurm client without a cluster configured",
)
def test_squeue_without_a_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Slurm lab (tests/slurm_lab.py) sets SLURM_CONF while its module runs: none here.
    monkeypatch.delenv("SLURM_CONF", raising=False)
    with pytest.raises(AgentError) as got:
        slurm.queue("me")
    assert got.value.message.startswith("squeue is here but finds no Slurm configuration")
    assert "\n" not in got.value.message and "DNS SRV" not in got.value.message
    assert got.value.hint == slurm.NO_CLUSTER_HINT
