"""The wire format shared by the console and the node agent (standard library only, Python 3.8+)."""
