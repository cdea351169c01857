"""A small real training job (torch + accelerate + h5py) for ``rdt-tui demo`` and the tests.

It runs as a job on a node, never imported by the console: the console only builds its argv.
"""
