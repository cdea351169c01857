"""The cluster screen's GPU table in the order a reader counts: GPU 2 before GPU 10, and host
node-2 before node-10 (text order put "10" first). Real agent with 12 SIMULATED GPUs, reached
under two host names."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.screens.cluster_screen import ClusterScreen

from .test_tui_dashboard import until


@pytest.mark.asyncio
async def test_gpus_and_hosts_sort_as_numbers(state_dir: str) -> None:
    clients: list[AgentClient] = []

    async def connect(host: str) -> AgentClient:
        client = AgentClient(LocalTransport(state_dir, simulate_gpus=12))
        await client.connect()
        clients.append(client)
        return client

    app: App[Any] = App()
    try:
        async with app.run_test(size=(140, 40)):
            await app.push_screen(ClusterScreen(["node-10", "node-2"], connect))
            table = app.screen.query_one(DataTable)
            await until(lambda: table.row_count == 24)
            rows = [tuple(map(str, table.get_row_at(i)[:2])) for i in range(24)]
            want = [(h, str(g)) for h in ("node-2", "node-10") for g in range(12)]
            assert rows == want
    finally:
        for client in clients:
            await client.close()
