"""What a run is before it starts: the launch plan and form defaults (plan.py) and the argv
each launcher makes (launchers.py). Pure and standard library only: no Textual, no asyncssh,
no I/O, and no import of ``config`` (config reads this package, not the other way round)."""
