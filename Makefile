# ferry — see README.md. Every target works on a fresh machine with Go 1.26.
GO      ?= go
BIN     ?= bin/ferry
PKGS    := ./...
FUZZTIME ?= 60s

.PHONY: all build test race demo bench fuzz lint vet fmt clean conformance

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ferry

# The test suite: unit, attack and end-to-end tests, with the race detector.
test:
	$(GO) test -race -count=1 $(PKGS)

# The whole journey on built-in data, in a temp dir.
demo:
	$(GO) run ./cmd/ferry demo

# Performance targets, side by side with the plain tools (zstd, openssl, tar).
bench:
	bash scripts/bench.sh

# ferry scan against govulncheck and osv-scanner on real Go programs and the
# shared Go vulnerability database (installs the peers; says what it skipped).
conformance:
	bash scripts/conformance.sh

# Fuzz the kit reader and verifier, the kit.yaml and issuers parsers and the
# SBOM readers ($(FUZZTIME) each).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./bundle/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseIssuers$$' -fuzztime $(FUZZTIME) ./kit/
	$(GO) test -run '^$$' -fuzz '^FuzzReadSBOM$$' -fuzztime $(FUZZTIME) ./scan/

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w .

lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin
