# The two commands: `make site` (the main job on the sandbox) and `make test` (the whole suite).
.PHONY: site test bootstrap sandbox-build sandbox-up sandbox-down sandbox-status sanity lint bench dashboards gateway-api-crds

site:
	bash scripts/site.sh

test:
	bash scripts/test.sh

bootstrap:
	bash scripts/bootstrap.sh

sandbox-build:
	bash scripts/bootstrap.sh --sandbox

sandbox-up: sandbox-build
	.venv/bin/python -m sandbox up

sandbox-down:
	.venv/bin/python -m sandbox down

sandbox-status:
	.venv/bin/python -m sandbox status

lint: bootstrap
	.venv/bin/ansible-lint

sanity: bootstrap
	bash scripts/sanity.sh

bench: sandbox-up
	.venv/bin/python bench/site_converge.py --json artifacts/bench-site-converge.json
	.venv/bin/python bench/site_converge.py --namespaces 100 --per-namespace 10 --converge-only --json artifacts/bench-site-converge-large.json
	.venv/bin/python bench/injection_scale.py
	.venv/bin/python bench/rollout_restart.py
	.venv/bin/python bench/rollout_restart.py --pod-ready-delay-ms 2000
	.venv/bin/python bench/doctor_scale.py

# Istio's Grafana dashboards, copied from the istio.io/istio module cache (observability_addons).
dashboards:
	bash scripts/istio-dashboards.sh

# The Gateway API CRDs, copied from the sigs.k8s.io/gateway-api module cache (mesh_gateways).
gateway-api-crds:
	bash scripts/gateway-api-crds.sh
