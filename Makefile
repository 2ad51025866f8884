# ChatRooms build. `make run` and `make test` are the two entry points.
# The web client (web/, Vite + React) is built into web/dist and embedded
# in the server binary; `make web` needs Node.js (the version of
# web/package.json's engines) and npm: `make prereqs` checks them and Go.
SHELL := /bin/bash
GO ?= go
BIN := bin/chatrooms
# A fuzz budget in executions, not time: a -fuzztime duration can fail
# with a bare "context deadline exceeded" when workers are starved at its
# end, a race in Go's fuzzing coordinator (golang/go#75804, fixed in Go
# 1.27; seen in a CI run beside a CPU hog). A count has no deadline.
FUZZTIME ?= 10000x
CHAOS_DURATION ?= 5m
ADDR ?= :8080
GOLANGCI_VERSION := v2.15.0
# Tools are installed once, at their pinned version, under the git-ignored
# bin/; the version is in the file name, so changing it installs anew.
TOOLS := bin/tools
GOLANGCI_LINT := $(TOOLS)/golangci-lint-$(GOLANGCI_VERSION)

# Every file the client build reads (not its output or its dependencies).
WEB_SRC = $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -type f ! -name '*.go' -print)
# Go packages but the browser tests, which `test` runs on their own.
GO_PKGS = $(shell $(GO) list ./... | grep -v '/e2e$$')

.PHONY: all run run-protocol-test build web web-test e2e screenshots test unit race interop chaos fuzz bench bench-chat bench-scale lint fmt-check vet deps clean

all: build

# The server binary, with the web client embedded.
build: prereqs web
	$(GO) build -o $(BIN) ./cmd/chatrooms

# The web client, rebuilt when a file under web/ changed. node_modules is
# order-only: tools touch it (vitest's cache) without changing what is
# built, and a new lock file is in WEB_SRC anyway.
web: prereqs web/dist/index.html

web/dist/index.html: $(WEB_SRC) | web/node_modules
	npm run build --prefix web
	@touch web/dist/.gitkeep

web/node_modules: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	@touch $@

# Starts the chat service on an embedded NATS server storing under ./data,
# building the client and the binary first where they are missing or old.
run: build
	./$(BIN) --addr $(ADDR) --data-dir ./data --metrics-addr 127.0.0.1:9464

# The protocol test-mode server, for the official protocol suites.
run-protocol-test: build
	./$(BIN) --protocol-test --addr 127.0.0.1:3000

deps: test/interop/node_modules web/node_modules e2e/node_modules

test/interop/node_modules: test/interop/package.json test/interop/package-lock.json
	npm ci --prefix test/interop --no-audit --no-fund
	@touch $@

e2e/node_modules: e2e/package.json e2e/package-lock.json
	npm ci --prefix e2e --no-audit --no-fund
	@touch $@

# All tests: formatting, vet and golangci-lint (.golangci.yml), unit +
# integration + interop tests with the
# race detector, a short run of every fuzz target, the web client's unit
# tests, then the browser tests against the real binary.
test: fmt-check lint deps web
	./scripts/prereqs_test.sh && $(MAKE) --no-print-directory actionlint
	$(GO) test -race -count=1 -timeout 15m $(GO_PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)
	$(MAKE) --no-print-directory web-test
	$(MAKE) --no-print-directory e2e

# The web client's unit tests (Vitest).
web-test: web/node_modules
	npm run lint --prefix web && npm test --prefix web

# Chromium (Debian's, at /usr/bin/chromium) against the binary with the
# client embedded; see e2e/README.md. Runs alone: a browser competing with
# the race-detector tests for two cores makes timing-bound waits flaky.
e2e: web e2e/node_modules
	$(GO) test -race -count=1 -timeout 15m -v ./e2e/

# Runs the browser tests and keeps their screenshots in docs/screenshots.
screenshots: web e2e/node_modules
	E2E_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout 15m ./e2e/

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 ./...

interop: deps
	$(GO) test -race -count=1 -v ./test/interop/

# The chaos test (test/cluster/chaos_test.go, build tag chaos, not in
# `test`): three nodes on a 3-server NATS cluster behind nginx, clients
# that drop, reload and move while sending with client_ids, a node and a
# NATS server killed, a rolling restart; it prints
# "chaos: sent=N acked=N delivered=N lost=N duplicated=N gaps=N".
chaos: deps
	$(GO) test -race -count=1 -tags chaos -timeout 30m -run TestChaos -v ./test/cluster/ -args -chaos.duration=$(CHAOS_DURATION)

# Runs every fuzz target for FUZZTIME each (executions, e.g. 10000x, or a
# duration).
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The chat benchmark side by side: chatload -scenario chat against the Go
# server, then against the in-memory Node.js peer (bench/node-chat), one
# core each for server and generator; minutes at the defaults, not part of
# `test`. Knobs: USERS ROOMS SENDERS RATES STEP ... BENCH_OUT (see
# scripts/bench-chat.sh), e.g. make bench-chat USERS=100 ROOMS=2 SENDERS=10.
bench-chat:
	./scripts/bench-chat.sh

# Scale out, measured (issue 13; not part of `test`): one nats-server
# (JetStream), 6 nodes on it, CONNS (100,000) users with an idle /chat
# WebSocket each from several client processes, one message to everyone,
# RSS per node; then 1 node vs 2 nodes on one room, deliveries/s per core.
# Knobs: CONNS NODES PROCS CHAT_USERS CHAT_RATES PARTS ... (see
# scripts/bench-scale.sh), e.g. make bench-scale CONNS=2000.
bench-scale:
	./scripts/bench-scale.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags chaos ./test/cluster/

# golangci-lint with .golangci.yml (which also lints the chaos-tagged files).
lint: vet $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

# Built with the local Go, so it understands this module's Go version.
$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS)
	GOBIN=$(CURDIR)/$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv $(TOOLS)/golangci-lint $@

# The GitHub Actions workflow (.github/workflows/ci.yml), which cannot run
# here, checked by actionlint; installed once, as golangci-lint is.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS)/actionlint-$(ACTIONLINT_VERSION)

.PHONY: actionlint prereqs
actionlint: $(ACTIONLINT)
	$(ACTIONLINT)

$(ACTIONLINT):
	@mkdir -p $(TOOLS)
	GOBIN=$(CURDIR)/$(TOOLS) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(TOOLS)/actionlint $@

# Go, Node.js and npm at the versions the build needs; otherwise one line
# for each missing one, saying where to get it (scripts/prereqs.sh).
prereqs:
	@GO=$(GO) ./scripts/prereqs.sh

clean:
	rm -rf bin
	find web/dist -mindepth 1 ! -name .gitkeep -delete
