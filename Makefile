# Sightline. `make help` lists the targets.
GO ?= go
PKGS := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: run
run: generate ## Run the server (DATABASE_URL, ADDR)
	$(GO) run . serve

.PHONY: demo
demo: generate ## Run the server on demo data (sqlite:data/demo.db)
	$(GO) run . demo

.PHONY: generate
generate: ## Regenerate the templ components
	$(GO) tool templ generate

.PHONY: templ-check
templ-check: ## Fail when the committed *_templ.go files differ from `templ generate`
	@$(GO) tool templ generate >/dev/null 2>&1
	@if [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then \
		echo "templ generate changed these files; run make generate and commit:"; \
		git status --porcelain -- '*_templ.go'; exit 1; fi

.PHONY: vet
vet: ## go vet and gofmt
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

.PHONY: test
test: vet templ-check ## Every test, on SQLite and PostgreSQL (a throwaway cluster unless TEST_DATABASE_URL is set), and the browser tests
	.ci/with-postgres $(GO) test -count=1 -timeout 8m $(PKGS)

.PHONY: bench
bench: ## Load and scale figures (starts its own PostgreSQL with fsync on)
	$(GO) run ./bench

.PHONY: lint
lint: vet ## Static analysis (staticcheck, installed on first use)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 $(PKGS)

.PHONY: vendor
vendor: ## Re-vendor htmx and Chart.js from the npm registry into static/vendor
	rm -rf /tmp/sightline-vendor && mkdir -p /tmp/sightline-vendor
	cd /tmp/sightline-vendor && npm pack htmx.org@2.0.11 chart.js@4.6.1 >/dev/null && \
		tar xzf htmx.org-2.0.11.tgz && cp package/dist/htmx.min.js $(CURDIR)/static/vendor/htmx-2.0.11.min.js && \
		cp package/LICENSE $(CURDIR)/static/vendor/htmx.LICENSE && rm -rf package && \
		tar xzf chart.js-4.6.1.tgz && cp package/dist/chart.umd.min.js $(CURDIR)/static/vendor/chart-4.6.1.umd.min.js && \
		cp package/LICENSE.md $(CURDIR)/static/vendor/chartjs.LICENSE.md
