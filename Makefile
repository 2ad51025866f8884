# ChatRooms build. `make run` and `make test` are the two entry points.
SHELL := /bin/bash
GO ?= go
BIN := bin/chatrooms
FUZZTIME ?= 3s
ADDR ?= :8080
GOLANGCI_VERSION := v2.15.0

.PHONY: all run run-protocol-test build test unit race interop fuzz bench lint fmt-check vet deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/chatrooms

# Starts the chat service on an embedded NATS server storing under ./data.
run: build
	./$(BIN) --addr $(ADDR) --data-dir ./data

# The protocol test-mode server, for the official protocol suites.
run-protocol-test: build
	./$(BIN) --protocol-test --addr 127.0.0.1:3000

deps: test/interop/node_modules

test/interop/node_modules: test/interop/package.json test/interop/package-lock.json
	npm ci --prefix test/interop --no-audit --no-fund
	@touch $@

# All tests: formatting, vet, unit + integration + interop tests with the
# race detector, then a short run of every fuzz target.
test: fmt-check vet deps
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 ./...

interop: deps
	$(GO) test -race -count=1 -v ./test/interop/

# Runs every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: vet
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION) run ./...

clean:
	rm -rf bin
