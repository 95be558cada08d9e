# tokend: `make run` runs the service, `make test` runs every test.
GO        ?= go
DATA_DIR  ?= ./data
PKGS      ?= ./...
# Benchmarks are sized for a 2-core machine; raise BENCHTIME for steadier figures.
BENCHTIME ?= 1s

.PHONY: run test test-short bench lint build fuzz clean

## run: the service with an embedded JetStream and Badger in $(DATA_DIR), on http://127.0.0.1:8080
run:
	$(GO) run ./cmd/tokend serve --data-dir $(DATA_DIR)

## test: every test, with the race detector
test:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) test-python

## test-python: the Python SDK's tests (sdk/python) against a real tokend it builds; python3, standard library only
PYTHON ?= python3
.PHONY: test-python
test-python:
	cd sdk/python && GO="$(GO)" $(PYTHON) -m unittest discover -s tests -v

## test-short: the fast tests only, for the edit-compile loop
test-short:
	$(GO) test -short -count=1 $(PKGS)

## bench: the benchmarks, each beside its raw baseline, then the whole service (bench-service)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)
	$(MAKE) bench-service

## bench-service: cmd/tokenbench, the service beside its raw baselines and a Watermill peer (docs/performance.md); BENCHFLAGS=-quick for the CI sizes
BENCHFLAGS ?=
BENCHJSON  ?= tokenbench.json
.PHONY: bench-service
bench-service:
	$(GO) run ./cmd/tokenbench -json $(BENCHJSON) $(BENCHFLAGS)

## lint: go vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## build: the binaries into ./bin
build:
	$(GO) build -o bin/ ./cmd/...

## fuzz: every fuzz target for FUZZTIME each
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
