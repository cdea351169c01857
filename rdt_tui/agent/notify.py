"""Webhook delivery of alerts: one worker thread, a bounded queue, retries with backoff.

The URL is a secret (a Slack or Discord webhook URL is a password to post in a channel): it
lives only in ``notify.json`` (0600) and in memory, and every message that names it shows
``mask_url`` (scheme and host, the path masked). The daemon's event loop only ever calls
``Notifier.submit``, which never blocks: a server that hangs holds up the worker thread
alone, and the queue drops its oldest alert rather than grow.
"""

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Optional, Tuple

from .files import CorruptFile, read_json, write_json_atomic

FORMATS = ("slack", "discord", "ntfy", "generic")
QUEUE_MAX = 32
ATTEMPTS = 5
BACKOFF_S = 1.0
BACKOFF_MAX_S = 30.0
TIMEOUT_S = 10.0


def notify_path(root: str) -> str:
    return os.path.join(root, "notify.json")


def mask_url(url: str) -> str:
    """``https://hooks.example.com/…``: enough to tell which service, never the secret path."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme or '?'}://{host}/…"


def check_notify(notify: Any) -> Tuple[Optional[Dict[str, Any]], str]:
    """A ``[notify]`` table checked: (the config, "") or (None, what is wrong)."""
    if not isinstance(notify, dict):
        return None, "[notify] must be a table with a `url`"
    url = notify.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return None, "notify.url must be an http:// or https:// URL"
    fmt = str(notify.get("format") or guess_format(url))
    if fmt not in FORMATS:
        return None, f"notify.format must be one of {', '.join(FORMATS)}"
    out: Dict[str, Any] = {"url": url, "format": fmt}
    timeout = notify.get("timeout_s", TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return None, "notify.timeout_s must be a number of seconds above 0"
    out["timeout_s"] = float(timeout)
    return out, ""


def guess_format(url: str) -> str:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host.endswith("slack.com"):
        return "slack"
    if host.endswith("discord.com") or host.endswith("discordapp.com"):
        return "discord"
    if host.startswith("ntfy."):
        return "ntfy"
    return "generic"


def load_node_config(root: str) -> Tuple[Dict[str, Any], str]:
    """``notify.json``: ``{"notify": {...}, "rules": {...}}``, and a problem ("" when none).

    A file that others can read is not used: its URL may already have leaked, and a webhook
    posting on from a shared file would hide that."""
    path = notify_path(root)
    try:
        data = read_json(path)
    except CorruptFile as exc:
        return {}, str(exc)
    if data is None:
        return {}, ""
    if os.stat(path).st_mode & 0o077:
        return {}, f"{path} is readable by other users; run `chmod 600 {path}`"
    if not isinstance(data, dict):
        return {}, f"{path} must hold a JSON object"
    return data, ""


def save_node_config(root: str, config: Dict[str, Any]) -> None:
    write_json_atomic(notify_path(root), config)  # 0600, atomically


def alert_text(alert: Dict[str, Any]) -> str:
    host = alert.get("host") or "?"
    run = alert.get("run") or "-"
    stamp = time.strftime("%H:%M:%S", time.localtime(float(alert.get("t") or 0)))
    return f"[{alert.get('severity', 'error')}] {host} {run} {stamp}: {alert.get('message')}"


def payload(fmt: str, alert: Dict[str, Any]) -> Tuple[bytes, Dict[str, str]]:
    """The body and headers of one POST in the service's format."""
    text = alert_text(alert)
    if fmt == "ntfy":  # a plain text body to the topic URL, the title in a header
        title = f"rdt-tui: {alert.get('kind')} on {alert.get('host') or '?'}"
        headers = {"Content-Type": "text/plain; charset=utf-8", "Title": title}
        if alert.get("severity") == "error":
            headers["Priority"] = "high"
        return text.encode("utf-8"), headers
    if fmt == "slack":
        body: Dict[str, Any] = {"text": text}
    elif fmt == "discord":
        body = {"content": text[:2000]}  # Discord refuses longer content
    else:
        body = dict(alert, text=text)
    return json.dumps(body).encode("utf-8"), {"Content-Type": "application/json"}


class Notifier:
    """Posts alerts to one webhook from a worker thread.

    ``submit`` never blocks; a full queue drops the oldest alert (counted in ``dropped``).
    5xx, 429 and network errors are retried with doubling backoff; other 4xx are not (the URL
    or the body is wrong and will stay so). Each attempt has a timeout, so a server that
    accepts and never answers costs one worker, never the daemon."""

    def __init__(
        self,
        config: Dict[str, Any],
        log: Callable[[str], None],
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.url = str(config["url"])
        self.format = str(config.get("format") or guess_format(self.url))
        self.timeout_s = float(config.get("timeout_s") or TIMEOUT_S)
        self.masked = mask_url(self.url)
        self.log = log
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.queue = queue.Queue(QUEUE_MAX)  # type: queue.Queue[Optional[Dict[str, Any]]]
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="rdt-notify", daemon=True)
        self._thread.start()

    def submit(self, alert: Dict[str, Any]) -> None:
        while True:
            try:
                self.queue.put_nowait(alert)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def close(self) -> None:
        self._stop.set()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass

    def _work(self) -> None:
        while not self._stop.is_set():
            alert = self.queue.get()
            if alert is None:
                return
            try:
                self._deliver(alert)
            except Exception as exc:  # the worker outlives any one alert
                self.log(f"webhook {self.masked}: {type(exc).__name__} while delivering")
                self.failed += 1

    def _deliver(self, alert: Dict[str, Any]) -> None:
        body, headers = payload(self.format, alert)
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            outcome = self._post(body, headers)
            if outcome == "ok":
                self.delivered += 1
                return
            if outcome.startswith("final"):
                self.log(f"webhook {self.masked}: {outcome[6:]}; not retried")
                break
            if attempt < self.attempts:
                self.log(f"webhook {self.masked}: {outcome}; retry in {delay:.0f} s")
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX_S)
            else:
                self.log(f"webhook {self.masked}: {outcome}; gave up after {attempt} attempts")
        self.failed += 1

    def _post(self, body: bytes, headers: Dict[str, str]) -> str:
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(65536)
            return "ok"
        except urllib.error.HTTPError as exc:
            # str(exc) holds no URL, but exc.url does: only the status is kept.
            if exc.code >= 500 or exc.code == 429:
                return f"answered {exc.code}"
            return f"final answered {exc.code}"
        except urllib.error.URLError as exc:
            return f"unreachable ({_reason(exc.reason)})"
        except (OSError, ValueError) as exc:  # a timeout, a reset, a malformed answer
            return f"failed ({_reason(exc)})"


def _reason(exc: Any) -> str:
    """An error's class and errno-like text, without anything that may quote the URL."""
    if isinstance(exc, str):
        return exc[:80]
    name = type(exc).__name__
    strerror = getattr(exc, "strerror", None)
    return f"{name}: {strerror}" if strerror else name
