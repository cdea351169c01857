"""A stand-in for a multi-node job without torch: ranks in lockstep over TCP, like an
all-reduce, so a dead peer ends the others (as NCCL or gloo would).

    python ring.py RANK NUM_RANKS MAIN_IP MAIN_PORT [STEPS]

Rank 0 listens; every step it sends a byte to each peer and waits for the echo. Each rank
prints `step=N loss=... rankR_loss=...`.
"""

import socket
import sys
import time

rank, n, ip, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
steps = int(sys.argv[5]) if len(sys.argv) > 5 else 100000
if rank == 0:
    server = socket.create_server((ip, port))
    peers = [server.accept()[0] for _ in range(n - 1)]
else:
    for _ in range(200):
        try:
            peers = [socket.create_connection((ip, port))]
            break
        except OSError:
            time.sleep(0.1)
for step in range(1, steps + 1):
    if rank == 0:
        for p in peers:
            p.sendall(b"x")
        if not all(p.recv(1) for p in peers):
            sys.exit(3)
    else:
        if not peers[0].recv(1):
            sys.exit(3)
        peers[0].sendall(b"x")
    print(f"step={step} loss={1 / step:.5f} rank{rank}_loss={1 / step:.5f}", flush=True)
    time.sleep(0.05)
