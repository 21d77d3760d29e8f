# ferry — see README.md. Every target works on a fresh machine with Go 1.26.
GO      ?= go
BIN     ?= bin/ferry
PKGS    := ./...
FUZZTIME ?= 60s

.PHONY: all build test race demo bench bench-scale fuzz lint vet fmt clean conformance e2e build-fips load

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ferry

# The test suite: unit, attack and end-to-end tests, with the race detector.
test:
	bash scripts/test.sh $(PKGS)

# The journey across a network namespace: the connected side with the real
# distribution registry and HTTPS feeds builds a kit; the offline side
# (unshare -rn, or unshare -n as root) verifies, imports, pushes, scans,
# gates and checks the decision with the real cosign, then runs the offline
# commands again with GODEBUG=fips140=only. Needs the tools of
# scripts/install-tools.sh (registry, cosign) and strace for the socket
# check. Every command's output is kept in $(E2E_OUT).
E2E_OUT ?= $(CURDIR)/e2e-out
e2e:
	FERRY_E2E_OUT=$(E2E_OUT) $(GO) test -tags e2e -count=1 -v -timeout 20m ./e2e/

# The site under load (docs/scale-out.md): runners importing one kit from a
# registry at once, gates attaching decisions at once. LOAD_ENV may set
# FERRY_LOAD_RUNNERS, FERRY_LOAD_GATES, FERRY_LOAD_IMAGES.
LOAD_ENV ?=
load:
	$(LOAD_ENV) $(GO) test -tags load -count=1 -v -run '^TestLoad$$' -timeout 20m ./publish/

# The whole journey on built-in data, in a temp dir.
demo:
	$(GO) run ./cmd/ferry demo

# Performance targets, side by side with the plain tools (zstd, openssl, tar).
bench:
	bash scripts/bench.sh

# How mirror, verify, import and scan grow with the advisory data: N OSV
# records made from the corpus's real ones, for each N of N (default
# "50000 200000 500000"); see scripts/bench-scale.sh for the knobs.
bench-scale:
	bash scripts/bench-scale.sh

# ferry scan against govulncheck and osv-scanner on real Go programs and the
# shared Go vulnerability database (installs the peers; says what it skipped).
conformance:
	bash scripts/conformance.sh

# Fuzz the kit reader, the metadata parser and the verifier, the kit.yaml
# and issuers parsers, the SBOM readers and the lockfile readers ($(FUZZTIME) each), then the
# mutation bar: $(MUTATIONS) seeded random mutations of a kit, none of which
# may verify with changed entries.
MUTATIONS ?= 20000
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyMetadata$$' -fuzztime $(FUZZTIME) ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMetadata$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePartIndex$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseIssuers$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzReadSBOM$$' -fuzztime $(FUZZTIME) ./scan/
	$(GO) test -run '^$$' -fuzz '^FuzzLockfiles$$' -fuzztime $(FUZZTIME) ./scan/
	$(GO) test -count=1 -timeout 60m -run '^TestMutation$$' ./verify/ -mutations $(MUTATIONS) -v

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w .

lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin

# ferry linked against the frozen, validated Go Cryptographic Module, with
# FIPS 140-3 mode on by default (docs/trust-model.md, "FIPS 140-3 mode").
.PHONY: build-fips
build-fips:
	GOFIPS140=v1.0.0 $(GO) build -trimpath -o $(BIN)-fips ./cmd/ferry
