# Two commands from a fresh clone: `make demo` (the main job: every lesson executed offline in the
# smoke profile, executed notebooks and figures in outputs/) and `make test`.
# Both create the local virtualenv .venv on first use.
PYTHON ?= python3
VENV := .venv
RUN := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(RUN) -m pip install --quiet --upgrade pip
	$(RUN) -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(RUN) -m course.notebooks --profile smoke --out outputs

test: $(INSTALLED)
	$(RUN) -m pytest
