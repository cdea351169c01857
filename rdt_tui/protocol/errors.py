"""Error codes both ends know, and the exception the agent raises to answer with one."""

from typing import Any, Dict

BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
UNKNOWN_RUN = "unknown_run"
BAD_CWD = "bad_cwd"
BAD_COMMAND = "bad_command"
GPUS_BUSY = "gpus_busy"
RUN_NOT_RUNNING = "run_not_running"
STATE_CORRUPT = "state_corrupt"
INTERNAL = "internal"
STATS_FAILED = "stats_failed"
STATS_UNWRITABLE = "stats_unwritable"
FIX_FAILED = "fix_failed"
UNENCODABLE = "unencodable"
TOO_MANY_REQUESTS = "too_many_requests"


class AgentError(Exception):
    """An error with a code, a message and a hint, sent to the client as it is."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint}
