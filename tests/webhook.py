"""A real HTTP server on 127.0.0.1 (port 0) that receives the agent's webhook POSTs.

``answers`` is the status of each request in turn (the last one repeats); ``hang`` makes it
accept and read a request, then never answer (until the test ends).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_PATH = "/hooks/T000/B111/s3cr3t-token-do-not-leak"


class Webhook:
    def __init__(self, answers: tuple[int, ...] = (200,), hang: bool = False) -> None:
        self.answers = list(answers)
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with hook._lock:
                    n = len(hook.requests)
                    hook.requests.append(
                        {
                            "t": time.time(),
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                        }
                    )
                if hook.hang:
                    hook.release.wait(120)
                    return
                status = hook.answers[min(n, len(hook.answers) - 1)]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.requests)} POSTs after {timeout} s, wanted {count}: "
                    f"{[r['body'][:200] for r in self.requests]}"
                )
            time.sleep(0.05)
        return list(self.requests)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
