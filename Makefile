# One command installs and starts everything (`make up`); one runs every test (`make test`).
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
RUN := $(UV) run --frozen
STACK := $(RUN) python deploy/local/stack.py

.PHONY: help install up down status env test test-faults test-unit lint schemas check-schemas manifests docs bench-intake bench-allocator bench-ledger bench-marketplace bench-metrics bench-console bench-speed-to-lead bench-scale-out capacity web openapi publish-example demo replay-dead-letters

help:
	@echo "make up            install everything, start broker, MongoDB, Redis and the services"
	@echo "make test          run every test (unit, handler and end-to-end on the local stack)"
	@echo "make test-unit     only the tests that need no infrastructure"
	@echo "make test-faults   fault injection: SIGKILL of services and broker, MongoDB restart, broker freeze, poison messages"
	@echo "make lint          ruff over every package"
	@echo "make demo          a call-center day played against the running platform (make up first; DEMO_ARGS=--seed 3)"
	@echo "make down          stop everything (make down WIPE=1 also deletes the data)"
	@echo "make replay-dead-letters   list dead letters; REPLAY_ARGS='--topic leads.received.v1 --apply' republishes"
	@echo "make status        what runs where"
	@echo "make publish-example   publish the README's example lead to leads.received.v1"
	@echo "make schemas       regenerate contracts/schemas/ from the models"
	@echo "make manifests     regenerate deploy/k8s/base/ and the services' Dockerfiles (deploy/k8s/render.py)"
	@echo "make docs          regenerate each service's AsyncAPI document"
	@echo "make bench-intake  lead-intake benchmark (100,000 leads through the real broker)"
	@echo "make bench-allocator  allocator benchmark (10,000 agents, 1,000,000 leads: claims, sweep, hot leads)"
	@echo "make bench-ledger  ledger benchmark (10,000 accounts, 200,000 purchases through the real broker)"
	@echo "make bench-marketplace  marketplace benchmark (10,000 listed tips, 100 users searching over HTTP)"
	@echo "make bench-console  console benchmark (10,000 agents on the live channel by SSE; events through the real broker)"
	@echo "make bench-speed-to-lead  a lead from publish to the agent's screen: intake, pool, push on arrival, SSE (2,000 agents)"
	@echo "make bench-scale-out  every consuming service as 1, 2, 3 replicas on 12 partitions; a replica SIGKILLed, one added; counts exact"
	@echo "make capacity     regenerate docs/capacity.md from the latest bench reports (bench-results/)"
	@echo "make web           build the console's web app (npm ci from the lockfile, then vite; skipped when unchanged)"
	@echo "make openapi       regenerate the services' OpenAPI documents the console's web app is typed from"
	@echo "make bench-metrics  metrics benchmark (1,000,000 mixed events: ingest against the raw consume ceiling, /metrics scrape)"

install:
	@bash deploy/local/install.sh

up: install
	@$(STACK) up

down:
	@$(STACK) down $(if $(WIPE),--wipe,)

status:
	@$(STACK) status

env:
	@$(STACK) env

# pytest exits 5 when it collected nothing: that always means broken paths or markers here.
# The fault-injection tests (marker `faults`, tests/faults/) run only in `make test-faults`.
test:
	@$(RUN) pytest -m "not faults" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; the test paths or markers are wrong" >&2; fi; \
	exit $$rc

lint:
	@$(RUN) ruff check contracts runtime testkit services tools tests deploy bench

# The markers come from where a test is and what it asks for (telesales_testkit.plugin): every test
# under tests/integration/ or tests/browser/, or asking for the `infra` fixture, is `integration`.
test-unit:
	@$(RUN) pytest -m "not integration and not faults" $(PYTEST_ARGS)

test-faults:
	@$(RUN) pytest tests/faults -m faults $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-faults: pytest collected no tests; the test paths or markers are wrong" >&2; fi; \
	exit $$rc

schemas:
	@$(RUN) python -m telesales_contracts.schemas

check-schemas:
	@$(RUN) python -m telesales_contracts.schemas --check

manifests:
	@$(RUN) python deploy/k8s/render.py

docs:
	@$(RUN) python -W ignore::RuntimeWarning -m telesales_contracts.retention
	@$(RUN) faststream docs gen --factory lead_intake.main:asyncapi_app -o services/lead-intake/asyncapi.json
	@$(RUN) faststream docs gen --factory allocator.main:asyncapi_app -o services/allocator/asyncapi.json
	@$(RUN) faststream docs gen --factory ledger.main:asyncapi_app -o services/ledger/asyncapi.json
	@$(RUN) faststream docs gen --factory marketplace.main:asyncapi_app -o services/marketplace/asyncapi.json
	@$(RUN) faststream docs gen --factory metrics.main:asyncapi_app -o services/metrics/asyncapi.json
	@$(RUN) faststream docs gen --factory console.main:asyncapi_app -o services/console/asyncapi.json

web:
	@bash deploy/local/build_web.sh

openapi:
	@$(RUN) python deploy/openapi_export.py

bench-intake:
	@$(RUN) python services/lead-intake/bench/bench_intake.py $(BENCH_ARGS)

bench-allocator:
	@$(RUN) python services/allocator/bench/bench_allocator.py $(BENCH_ARGS)

bench-ledger:
	@$(RUN) python services/ledger/bench/bench_ledger.py $(BENCH_ARGS)

bench-marketplace:
	@$(RUN) python services/marketplace/bench/bench_marketplace.py $(BENCH_ARGS)

bench-metrics:
	@$(RUN) python services/metrics/bench/bench_metrics.py $(BENCH_ARGS)

publish-example:
	@$(RUN) python deploy/local/publish.py leads.received.v1 examples/lead-received.json

demo:
	@$(RUN) telesales-demo $(DEMO_ARGS)

# Dead letters: a dry-run listing by default; REPLAY_ARGS="--topic T --since 2026-11-24T00:00:00+08:00 --apply"
# republishes (python -m telesales_tools.replay --help lists every filter).
replay-dead-letters:
	@$(RUN) python -m telesales_tools.replay $(REPLAY_ARGS)

bench-console:
	@$(RUN) python services/console/bench/bench_console.py $(BENCH_ARGS)

bench-speed-to-lead:
	@$(RUN) python bench/speed-to-lead/bench_speed_to_lead.py $(BENCH_ARGS)

bench-scale-out:
	@$(RUN) python bench/scale-out/bench_scale_out.py $(BENCH_ARGS)

# docs/capacity.md from the newest report of each benchmark under bench-results/ (CAPACITY_ARGS: other files or folders)
capacity:
	@$(RUN) python bench/capacity/make_capacity.py $(CAPACITY_ARGS)
