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

## fuzz: every fuzz target for FUZZTIME each (a count of executions: see fuzz-ci)
FUZZTIME ?= 200000x
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin

.PHONY: test-cluster fuzz-ci vulncheck vulncheck-ci

## test-cluster: the fault tests (build tag "cluster"): three nats-server nodes and two tokend replicas as subprocesses, SIGKILL/SIGSTOP under load; about 4 minutes
test-cluster:
	$(GO) test -tags cluster -count=1 -v -timeout 12m ./deploy/clustertest

## fuzz-ci: each fuzz target below for FUZZ_CI_TIME, one after the other (CI's bounded fuzzing)
# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when the
# deadline fires while a starved worker is mid-call (golang/go#75804, fixed
# in Go 1.27). A count has no deadline to race; it is a few seconds each.
FUZZ_CI_TIME     ?= 40000x
FUZZ_CI_PARALLEL ?= 1
FUZZ_CI_TARGETS = \
	./domain:FuzzCheckSecret \
	./domain:FuzzParseName \
	./domain:FuzzEventJSON \
	./adapters/wire:FuzzDecodeBody \
	./adapters/wire:FuzzNATSCommand \
	./adapters/wire:FuzzOutcomeJSON \
	./adapters/natsjs:FuzzParsePubAck \
	./cmd/tokend:FuzzParseSize \
	./projections:FuzzCursor \
	./projections:FuzzUnmarshalWire
fuzz-ci:
	@set -e; for t in $(FUZZ_CI_TARGETS); do \
	  pkg=$${t%%:*}; f=$${t##*:}; \
	  echo "fuzz $$pkg $$f for $(FUZZ_CI_TIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_CI_TIME) -parallel $(FUZZ_CI_PARALLEL) $$pkg; \
	done

## vulncheck: govulncheck (go install'ed from the module proxy) over every package; needs its database at GOVULNDB
GOVULNCHECK_VERSION ?= latest
GOVULNDB            ?= https://vuln.go.dev
vulncheck:
	$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	"$$($(GO) env GOPATH)/bin/govulncheck" -db $(GOVULNDB) ./...

## vulncheck-ci: vulncheck, failing only on vulnerabilities found (govulncheck's exit 3); a database it cannot reach is reported, not failed
vulncheck-ci:
	@$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	@"$$($(GO) env GOPATH)/bin/govulncheck" -db $(GOVULNDB) ./...; rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "vulncheck: vulnerabilities found"; exit 1; \
	elif [ $$rc -ne 0 ]; then echo "vulncheck: NOT CHECKED: govulncheck exited $$rc (is $(GOVULNDB) reachable?)"; fi
