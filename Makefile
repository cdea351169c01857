# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the tests).
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "rdt-tui needs Python >= 3.10")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[train,dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rdt-tui demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/parse_throughput.py
	$(PY) benchmarks/agent_catchup.py
	$(PY) benchmarks/reattach_history.py
	$(PY) benchmarks/agent_cpu.py
	$(PY) benchmarks/live_parse_cpu.py
	$(PY) benchmarks/ckpt_scan.py
	$(PY) benchmarks/ssh_figures.py
	$(PY) benchmarks/nosftp_figures.py
	$(PY) benchmarks/console_figures.py
	$(PY) benchmarks/preflight_figures.py
	$(PY) benchmarks/format_throughput.py
	$(PY) benchmarks/format_fastpath.py
	$(PY) benchmarks/log_search.py
	$(PY) benchmarks/metric_store.py
	$(PY) benchmarks/soak_figures.py
	$(PY) benchmarks/scale_figures.py
	$(PY) benchmarks/tfevents_read.py --mb 100
	$(PY) benchmarks/alert_latency.py
	$(PY) benchmarks/slurm_figures.py

clean:
	rm -rf $(VENV) build *.egg-info
