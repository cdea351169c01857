"""Pure logic shared by the console and the agent: no I/O (standard library only, Python 3.8+)."""
