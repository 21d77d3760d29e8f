# ferry — see README.md. Every target works on a fresh machine with Go 1.26.
GO      ?= go
BIN     ?= bin/ferry
PKGS    := ./...
FUZZTIME ?= 60s

.PHONY: all build test race demo bench bench-scale fuzz lint vet fmt clean conformance

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ferry

# The test suite: unit, attack and end-to-end tests, with the race detector.
test:
	bash scripts/test.sh $(PKGS)

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
# and issuers parsers and the SBOM readers ($(FUZZTIME) each), then the
# mutation bar: $(MUTATIONS) seeded random mutations of a kit, none of which
# may verify with changed entries.
MUTATIONS ?= 20000
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyMetadata$$' -fuzztime $(FUZZTIME) ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMetadata$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseIssuers$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzReadSBOM$$' -fuzztime $(FUZZTIME) ./scan/
	$(GO) test -count=1 -timeout 60m -run '^TestMutation$$' ./verify/ -mutations $(MUTATIONS) -v

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w .

lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin
