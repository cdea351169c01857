"""The alert ops: ``alerts`` (what was raised, what a console has not seen yet) and
``notify`` (the user's webhook and rules, pushed from the console's settings)."""

import asyncio
import time
from typing import Any, Dict, Optional

from ..core.alerts import DEFAULT_RULES, merge_rules
from ..protocol import errors
from ..protocol.errors import AgentError
from .alerting import AlertEngine
from .alertstate import log
from .notify import check_notify, load_node_config, mask_url, save_node_config


class AlertOps:
    """Mixed into AgentService: the engine's loop and its two ops."""

    root: str
    _alert_engine: Optional[AlertEngine] = None

    def alert_engine(self) -> AlertEngine:
        if self._alert_engine is None:
            self._alert_engine = AlertEngine(self)
        return self._alert_engine

    async def alert_loop(self) -> None:
        """The daemon's background task: alert rules for every watched run."""
        await self.alert_engine().run()

    def _notify_summary(self) -> Dict[str, Any]:
        engine = self.alert_engine()
        n = engine.notifier
        out: Dict[str, Any] = {"problem": engine.problem, "rules": engine.user_rules}
        out["notify"] = (
            None
            if n is None
            else {
                "url": n.masked,  # never the URL itself: it is a secret
                "format": n.format,
                "delivered": n.delivered,
                "failed": n.failed,
                "dropped": n.dropped,
                "queued": n.queue.qsize(),
            }
        )
        return out

    async def op_alerts(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Alerts kept on the node, oldest first. ``unseen``: only those no console has shown
        yet; ``mark_seen``: a console shows them now, so the next attach does not again."""
        engine = self.alert_engine()
        since = int(args.get("since", 0))
        if args.get("unseen"):
            since = max(since, engine.log.seen())
        loop = asyncio.get_event_loop()
        alerts = await loop.run_in_executor(
            None,
            engine.log.read,
            since,
            float(args.get("since_t") or 0.0),
            int(args.get("limit", 1000)),
        )
        if args.get("mark_seen"):
            engine.log.mark_seen()
        return dict(self._notify_summary(), alerts=alerts, last_seq=engine.log.last_seq)

    async def op_notify(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Set the webhook (``notify``: a table, or null to remove it) and the user's rules
        (``rules``), kept in the node's notify.json (0600); ``test``: post a test alert."""
        engine = self.alert_engine()
        if "notify" in args or "rules" in args:
            data, _ = load_node_config(self.root)
            if "notify" in args:
                if args["notify"] is None:
                    data.pop("notify", None)
                else:
                    notify, problem = check_notify(args["notify"])
                    if notify is None:
                        raise AgentError(errors.BAD_REQUEST, problem, "see docs/alerts.md")
                    data["notify"] = notify
            if "rules" in args:
                _, problems = merge_rules(DEFAULT_RULES, args["rules"])
                if problems:
                    raise AgentError(errors.BAD_REQUEST, "; ".join(problems), "see docs/alerts.md")
                data["rules"] = args["rules"] or {}
            if data != load_node_config(self.root)[0]:  # an attach that changes nothing is quiet
                save_node_config(self.root, data)
                url = (data.get("notify") or {}).get("url")
                log("alerts: settings pushed" + (f" (webhook {mask_url(url)})" if url else ""))
                engine.reload(force=True)
        if args.get("test"):
            if engine.notifier is None:
                raise AgentError(
                    errors.BAD_REQUEST,
                    "no webhook is set on this node",
                    "set [notify] url in settings.toml, then `rdt-tui alerts HOST --push`",
                )
            engine.raise_alert(None, "test", "info", "a test alert from rdt-tui", time.time())
        return self._notify_summary()
