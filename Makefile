# audioprune: the two commands of the quick start are `make book` and `make test`.
PYTHON ?= python3
JUPYTER_BOOK ?= $(PYTHON) -c "from jupyter_book.cli.main import main; main()"
# Data sets, features and trained models made by the book are cached here.
export AUDIOPRUNE_HOME ?= $(CURDIR)/.cache/audioprune
export MPLBACKEND ?= Agg

INSTALLED := .make/installed
VENDOR := _static/vendor
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.6
REQUIREJS := requirejs@2.3.7

.PHONY: install vendor book test unit bench clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m pip install -r requirements.txt
	@mkdir -p $(@D) && touch $@

# The widget JavaScript, fetched from the npm registry and served by the book itself.
vendor: $(VENDOR)/.complete

$(VENDOR)/.complete: Makefile
	rm -rf .make/npm $(VENDOR) && mkdir -p .make/npm $(VENDOR)/html-manager
	cd .make/npm && npm pack --silent $(HTML_MANAGER) $(REQUIREJS) > /dev/null
	tar -xzf .make/npm/jupyter-widgets-html-manager-*.tgz -C $(VENDOR)/html-manager --strip-components=2 package/dist
	tar -xzf .make/npm/requirejs-*.tgz -C $(VENDOR) --strip-components=1 package/require.js
	touch $@

book: install vendor
	$(JUPYTER_BOOK) build . -W --keep-going

unit: install
	$(PYTHON) -m pytest

test: unit book

bench: install
	$(PYTHON) benchmarks/data.py

clean:
	rm -rf _build .make $(VENDOR) .cache
