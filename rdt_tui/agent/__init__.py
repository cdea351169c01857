"""The node side: a per-user daemon that launches, supervises and streams training runs.

Standard library only at import time, Python 3.8+: it ships as a zipapp to nodes whose Python
may be old and whose site-packages may be anything.
"""
