# Targets the README names. Each installs what it needs into $(VENV) by itself.
# ytcollect supports Python 3.11, 3.12 and 3.13; PY picks one (default: the first of them found).
SUPPORTED := 3.11 3.12 3.13
PY      ?= $(firstword $(foreach v,$(SUPPORTED),$(if $(shell python$(v) -c '' 2>/dev/null && echo y),python$(v))) python3)
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test test-fast lint lock services bench clean check-python rebuild-venv fonts

version = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PY_VERSION := $(call version,$(PY))

# A venv made by another Python (an earlier PY=…, or one whose install failed) is rebuilt, not reused:
# pip would refuse it again on every target until someone ran `make clean`.
VENV_VERSION := $(if $(wildcard $(VENV)),$(or $(call version,$(BIN)/python),broken))
ifneq ($(VENV_VERSION),)
ifneq ($(VENV_VERSION),$(PY_VERSION))
$(STAMP): rebuild-venv
endif
endif

rebuild-venv: | check-python
	@echo "$(VENV) was made with Python $(VENV_VERSION) and PY=$(PY) is $(PY_VERSION): rebuilding it"
	rm -rf $(VENV)

check-python:
	@case " $(SUPPORTED) " in *" $(or $(PY_VERSION),none) "*) ;; \
	  *) echo "ytcollect needs Python $(firstword $(SUPPORTED))–$(lastword $(SUPPORTED)); PY=$(PY) is '$(or $(PY_VERSION),not runnable)': install one of them and name it, e.g. make PY=python3.12" >&2; exit 2;; esac

$(STAMP): pyproject.toml requirements.lock | check-python
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## run a sample of every input kind on the embedded default (no services, no keys)
	$(BIN)/ytcollect demo

test: $(STAMP)  ## the whole suite against the real PostgreSQL, Redis and RabbitMQ on 127.0.0.1
	bash scripts/ensure-services
	bash scripts/ensure-browser
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## pure tests only, no services
	$(BIN)/python -m pytest -m "not services"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fonts:  ## a CJK font for charts (Debian's fonts-droid-fallback); without one, such titles are transliterated
	@if fc-list 2>/dev/null | grep -qi "droid sans fallback\|noto sans cjk\|wenquanyi"; then echo "a CJK font is installed"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then apt-get install -y -q fonts-droid-fallback; \
	else echo "install a CJK font (Debian: apt-get install fonts-droid-fallback); charts transliterate until then"; fi

lock: $(STAMP)  ## pin what .venv has now (after a dependency change and a green `make test`)
	( head -n 2 requirements.lock; $(BIN)/pip freeze --exclude-editable | grep -v '^ytcollect' ) > requirements.lock.new
	mv requirements.lock.new requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache .ytcollect
