# dxhub — build, run and test. Only `go` and Debian packages are used; missing
# packages are installed with apt-get (as root, or through sudo).

GO        ?= go
BIN       := bin/dxhub
APT_PKGS  := libxml2-dev libxml2-utils pkg-config gcc xmlsec1 openssl postgresql kcat chromium
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
GOTESTFLAGS ?=
# clamd for the antivirus tests (internal/antivirus/clamdtest starts its own).
APT_PKGS  += clamav-daemon

.PHONY: all deps build run test test-short vet fuzz bench bench-cluster bench-go clean

all: build

# deps installs the system packages the cgo XSD validator and the tests need.
deps:
	@missing=""; \
	for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# node and npm (the independent npm soap client of the XTA interop test):
	@# Debian's packages only where no node/npm is installed already.
	@if ! command -v npm >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; \
	fi

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dxhub

# run starts the hub on its embedded default (SQLite under ./var, built-in XTA
# mailbox, file directory, local Postfach) on 127.0.0.1:8080.
run: build
	./$(BIN) serve

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) vet ./...

# test runs every test with the race detector, including the end-to-end and
# crash tests that start the real binary.
test: deps vet
	$(GO) test -race -count=1 -timeout 15m $(GOTESTFLAGS) ./...

test-short: deps
	$(GO) test -short -count=1 ./...

# fuzz runs each fuzz target for a short while (FUZZTIME=30s by default).
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# bench runs the full-path load harness (a fresh `dxhub serve` per scenario:
# 10 KB JSON, the same at 50 % of the measured maximum, 1 MB and 100 MB
# attachments) and writes BENCHMARKS.md; BENCH_SCALE=0.1 for a quick look.
# bench-go runs the Go micro-benchmarks whose figures the README reports.
BENCH_SCALE ?= 1
bench: build
	$(BIN) bench --scale $(BENCH_SCALE) --out BENCHMARKS.md

# bench-cluster measures the cluster curve: PostgreSQL (fsync on) and a kfake
# broker started by the bench, 1, 2 and 3 `dxhub serve` processes with Kafka
# work distribution; it replaces the "Cluster curve" section of BENCHMARKS.md.
BENCH_CLUSTER ?= 1,2,3
bench-cluster: build
	$(BIN) bench --cluster $(BENCH_CLUSTER) --scale $(BENCH_SCALE) --out BENCHMARKS.md

bench-go: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

clean:
	rm -rf bin var
