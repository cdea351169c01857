"""Where the daemon's socket is, and who is at the other end of a connection to it.

Apart from daemon.py so that ``attach`` (a process started for every connection) need not
import the daemon and everything it serves with."""

import os
import socket
import struct
from typing import Optional


def socket_path(root: str) -> str:
    return os.path.join(root, "agent.sock")


def peer_uid(sock: socket.socket) -> Optional[int]:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", creds)[1]
