# Huiyan (慧眼迎客) — see README.md. `make demo` and `make test` are the two
# commands a new user runs; both install or build what they need, or stop
# with a message naming what is missing.

SHELL       := /bin/bash
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
TOOLS       := $(CURDIR)/.tools
STATICCHECK_VERSION ?= v0.8.2
BINARIES    := edge/cmd/huiyan-edge hub/cmd/huiyan-hub firmware-contracts/cmd/huiyan-devsim
TEST_TIMEOUT ?= 12m
DEMO_DIR    ?= $(CURDIR)/.demo

.PHONY: all build test lint demo bench e2e deps clean help

all: build

help:
	@echo "make demo   run the whole system on embedded defaults"
	@echo "make test   unit and real-dependency tests (installs mosquitto when root)"
	@echo "make lint   gofmt, go vet, staticcheck"
	@echo "make build  binaries into bin/"
	@echo "make bench  benchmarks into docs/BENCHMARKS.md"
	@echo "make e2e    browser end-to-end tests"

# deps makes sure the programs the real-dependency tests start are here:
# Debian packages are installed when we are root with apt-get, otherwise the
# target fails naming the package.
deps:
	@command -v $(GO) >/dev/null || { echo "go not found: install Go 1.26 or newer (https://go.dev/dl/)"; exit 1; }
	@$(call need_pkg,mosquitto,mosquitto)
	@$(call need_pkg,chromium,chromium)
	@[ -d /usr/share/fonts/truetype/wqy ] || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || \
		echo "note: fonts-wqy-microhei not installed: PAD screenshots will show boxes for Chinese text (tests do not depend on it)"

# need_pkg(binary,package): install the Debian package if the binary is missing.
define need_pkg
if ! command -v $(1) >/dev/null && [ ! -x /usr/sbin/$(1) ]; then \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian package $(2) (needed by the tests)"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null; }; } || \
		  { echo "could not install Debian package $(2)"; exit 1; }; \
	else \
		echo "missing $(1): install Debian package $(2) (apt-get install $(2)), or run make as root to have it installed"; exit 1; \
	fi; \
fi
endef

build:
	@mkdir -p bin
	@for b in $(BINARIES); do \
		if [ -d $$b ]; then $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./$$b || exit 1; fi; \
	done
	@ls bin/

test: deps
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

lint: $(TOOLS)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

demo: build
	@bash deploy/demo.sh "$(DEMO_DIR)"

# bench measures issue 8's figures into docs/BENCHMARKS.md (see its "How to
# reproduce"): about 10 minutes on two quiet cores. BENCH_QUICK=1 shrinks
# every count to check the pipeline; BENCH_FULL=1 adds the 10,000,000-
# customer hub import. Raw output and the edge's CPU profile stay in
# $(BENCH_DIR). Every step runs even when one fails; the report lists what
# is missing and the target then fails.
BENCH_DIR   ?= $(CURDIR)/.bench
BENCH_GO    = $(GO) test -run '^$$' -timeout 40m
export BENCH_QUICK BENCH_FULL

bench: build
	@$(call need_pkg,mosquitto,mosquitto)
	@$(call need_pkg,redis-server,redis-server)
	@rm -rf $(BENCH_DIR) && mkdir -p $(BENCH_DIR)
	@date +%s > $(BENCH_DIR)/started; cat /proc/loadavg > $(BENCH_DIR)/loadavg-start 2>/dev/null || true
	@status=0; \
	step() { echo "== go test $$*"; $(BENCH_GO) "$$@" 2>&1 | tee -a $(BENCH_DIR)/bench.txt; \
		[ "$${PIPESTATUS[0]}" = 0 ] || { echo "FAILED: go test $$*"; status=1; }; }; \
	step -bench 'Decode' -benchmem ./firmware-contracts/; \
	step -bench 'Compose' -benchmem ./edge/; \
	step -bench 'EncodeArrival' -benchmem ./pad-api/; \
	step -bench 'UpdateArrival' -benchmem -benchtime 2000x ./edge/bolt/; \
	step -bench 'Resolve' -benchmem -benchtime 100000x ./edge/bolt/; \
	step -bench 'ArrivalRate|FanOut|WheelResult' -benchtime 1x ./edge/cmd/huiyan-edge/; \
	BENCH_EDGE_BIN=$(CURDIR)/bin/huiyan-edge step -bench 'Footprint' -benchtime 1x ./edge/cmd/huiyan-edge/; \
	step -bench 'HubSync|EventIngest' -benchtime 1x ./hub/cmd/huiyan-hub/; \
	echo "== CPU profile of the edge at 1,000 arrivals/s"; \
	if $(BENCH_GO) -bench 'ArrivalRate/Embedded/rate=1000$$' -benchtime 1x -cpuprofile $(BENCH_DIR)/cpu.out \
		-o $(BENCH_DIR)/edge.test ./edge/cmd/huiyan-edge/ > $(BENCH_DIR)/profile-run.txt 2>&1; then \
		$(GO) tool pprof -top -nodecount 40 -tagignore side=bench $(BENCH_DIR)/edge.test $(BENCH_DIR)/cpu.out > $(BENCH_DIR)/pprof-flat.txt 2>&1 && \
		$(GO) tool pprof -top -cum -nodecount 300 -tagignore side=bench $(BENCH_DIR)/edge.test $(BENCH_DIR)/cpu.out > $(BENCH_DIR)/pprof-cum.txt 2>&1 || \
		{ echo "FAILED: go tool pprof"; status=1; }; \
	else cat $(BENCH_DIR)/profile-run.txt; echo "FAILED: the profiled run"; status=1; fi; \
	date +%s > $(BENCH_DIR)/finished; cat /proc/loadavg > $(BENCH_DIR)/loadavg-end 2>/dev/null || true; \
	$(GO) run ./docs/benchreport -dir $(BENCH_DIR) -out docs/BENCHMARKS.md -bin bin || status=1; \
	echo "make bench took $$(( $$(cat $(BENCH_DIR)/finished) - $$(cat $(BENCH_DIR)/started) )) s"; \
	exit $$status

# e2e runs the headless-Chromium PAD tests on their own (make test runs them
# too) and keeps their screenshots in .e2e-screenshots/.
e2e: deps
	HUIYAN_SCREENSHOTS=$(CURDIR)/.e2e-screenshots $(GO) test -race -count=1 -timeout 5m -run '^TestPADBrowser$$' -v ./edge/cmd/huiyan-edge/

clean:
	rm -rf bin $(DEMO_DIR) .bench
