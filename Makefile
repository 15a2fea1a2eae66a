# Vigil build. `make test` is what CI runs; it needs root for the BPF tests.
GO ?= go
# what `vigil version` and GetStatus report
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BPF_SRC := $(shell find bpf -name '*.c' -o -name '*.h' | grep -v vmlinux.h)
GENERATED := $(wildcard pkg/tracing/*_bpfel*.go pkg/tracing/*_bpfel*.o) crds deploy/helm/vigil/crds pkg/api \
	deploy/helm/vigil/library deploy/library/library.yaml

.PHONY: all build image node-images deps generate check-generated vmlinux lint test test-host test-go test-race test-image fuzz vmtest bench clean

all: build

# A release build: no file paths of this machine, no symbol table or DWARF
# (a third smaller; panics still name their functions), the version linked in.
build:
	$(GO) build -trimpath -ldflags "-s -w -X github.com/vigil-sec/vigil/pkg/server.Version=$(VERSION)" -o bin/vigil ./cmd/vigil

# The container image (tools/image, a module of its own): the static binary
# on an empty base, reproducible (every time is the commit's), written as a
# docker-archive tarball tagged VERSION and latest: bin/image/vigil.tar.
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/vigil-sec/vigil/pkg/server.Version=$(VERSION)" -o bin/image/vigil ./cmd/vigil
	cd tools/image && SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) $(GO) run . \
		-binary ../../bin/image/vigil -out ../../bin/image/vigil.tar -version $(VERSION) \
		-revision "$$(git rev-parse HEAD 2>/dev/null)" -tag ghcr.io/vigil-sec/vigil:$(VERSION)

# The node tests' images (deploy/node_test.go): busybox and the pause image,
# from Debian's busybox-static, written to bin/image/busybox.tar.
node-images:
	@[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }
	mkdir -p bin/image
	cd tools/image && $(GO) run . -busybox /bin/busybox -out ../../bin/image/busybox.tar

deps:
	@scripts/deps.sh

# BPF objects and their Go bindings, committed so `go build` needs no clang;
# the CRDs, from pkg/crd's API types (controller-gen, a tool of go.mod), and
# their copy in the Helm chart; the gRPC API's Go code, from api/ (protoc);
# the detection library's copies: in the chart, and as vigil.dev resources
# for kubectl apply -k deploy/library/.
generate: deps
	scripts/generate-bpf.sh
	$(GO) generate ./pkg/api/
	$(GO) tool controller-gen crd:crdVersions=v1 paths=./pkg/crd/... output:crd:dir=./crds
	cp crds/vigil.dev_*.yaml deploy/helm/vigil/crds/
	rm -f deploy/helm/vigil/library/*.yaml && cp policies/library/*.yaml deploy/helm/vigil/library/
	for f in policies/library/*.yaml; do echo ---; sed 's,^apiVersion: cilium.io/v1alpha1$$,apiVersion: vigil.dev/v1alpha1,' $$f; done \
		>deploy/library/library.yaml

# Fails when the committed BPF objects differ from what the sources build.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		git status --short -- $(GENERATED); \
		echo "generated BPF objects, CRDs or API code are stale: run 'make generate' and commit them" >&2; \
		exit 1; \
	fi

# vmlinux.h from the running kernel's BTF (x86_64); committed.
vmlinux: deps
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/include/vmlinux.h

lint: deps
	@bad=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt needed: $$bad" >&2; exit 1; fi
	$(GO) vet ./...
	clang-format-19 --dry-run --Werror $(BPF_SRC)

# The kernel matrix runs beside the host's tests: QEMU's one TCG thread
# keeps a core busy, and the host's tests leave most of the other free
# (they wait on receivers, an API server, a node). One after the other
# they took 50 minutes on a warm machine and about 62 on a clean one.
test: check-generated lint
	@$(MAKE) --no-print-directory -j2 test-host vmtest

# The host's tests, one after the other.
test-host:
	@$(MAKE) --no-print-directory -j1 test-go test-race test-image

# 30 minutes a package: the first to start a node builds its kubelet, on a
# clean machine, and that counts in the package's time.
test-go:
	$(GO) test -count=1 -p 1 -timeout 30m ./...

# The user-space packages under the race detector (the BPF ones run their
# concurrency tests in test-go; under -race they would take too long).
RACE_PKGS := ./pkg/lifecycle/ ./pkg/policy/ ./pkg/compile/ ./pkg/filter/ ./pkg/broadcast/ ./pkg/server/ \
	./pkg/sink/ ./pkg/spool/ ./pkg/export/ ./pkg/output/ ./pkg/guard/ ./pkg/event/ ./pkg/metrics/
# The agent's tests where goroutines meet: its writer, pods attached while
# events are written, policies from the API server removed while it stops.
RACE_AGENT := 'Writer|Pod|APIServer|Namespaced|Selector|Workload'
# The sink's 45-second outage tests run once, in test-go.
test-race:
	$(GO) test -race -count=1 -p 1 -skip 'Outage$$' $(RACE_PKGS) ./pkg/memtune/
	$(GO) test -race -count=1 -run $(RACE_AGENT) ./pkg/agent/

# The image builds, and its tests check its configuration, its files and
# that two builds give one digest.
test-image: image
	cd tools/image && $(GO) vet ./... && $(GO) test -count=1 ./...

# Every fuzz target for a few seconds (FUZZTIME, 10s by default). Not part
# of `make test`, which must be deterministic: the seed corpora run in
# test-go; run this before submitting and commit what it finds as seeds.
fuzz:
	scripts/fuzz.sh

# Kernel matrix: the BPF tests under Debian 5.10, 6.1 and 6.12 in QEMU (root).
# One test on one kernel: scripts/vmtest.sh --kernel 6.1 --run TestName ./pkg/agent/
vmtest:
	scripts/vmtest.sh

# The report (report.md, PNG plots, the Go benchmarks' output) goes to a
# folder of its own per run.
BENCH_OUT ?= bench-results/$(shell date -u +%Y%m%d-%H%M%S)
bench: build
	$(GO) run ./bench -out $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchtime 20x ./pkg/agent/ >$(BENCH_OUT)/go-benchmarks.txt
	$(GO) test -run '^$$' -bench . -benchtime 3s ./pkg/sink/ ./pkg/spool/ ./pkg/filter/ ./pkg/guard/ ./pkg/respond/ ./pkg/process/ >>$(BENCH_OUT)/go-benchmarks.txt
	cat $(BENCH_OUT)/go-benchmarks.txt
	@echo "report: $(BENCH_OUT)/report.md"

clean:
	rm -rf bin
