# virtops.compute — the commands a user and CI run (as root, on Debian/Ubuntu).
#   make demo   set up everything, start the lab daemons, build the tiny image, run playbooks/demo.yml
#   make test   set up everything and run the whole suite (unit, end-to-end against the real lab, sanity, lint)
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHONPATH := $(CURDIR)/tests
LAB := $(PY) -m lab.cli
PYTEST_ARGS ?=

.PHONY: demo test setup lab-up lab-down lab-status fleet-up fleet-down fleet-status images unit e2e sanity lint build importer docs changelog bench

demo: setup
	$(LAB) up
	$(PY) -m lab.images build tiny
	VIRTOPS_TINY_IMAGE=$$($(PY) -m lab.images path tiny) $(VENV)/bin/ansible-playbook playbooks/demo.yml

# The sub-makes below skip the setup that `test` has just done. The static checks (lint, sanity, importer, docs) need
# no lab: in a full run scripts/run-tests.sh runs them beside the end-to-end lanes (VIRTOPS_STATIC_CHECKS); with
# PYTEST_ARGS they run first, as the tests given are then one ordinary pytest session.
test: setup
	VIRTOPS_SETUP_DONE=1 $(MAKE) --no-print-directory build
ifneq ($(strip $(PYTEST_ARGS)),)
	VIRTOPS_SETUP_DONE=1 $(MAKE) --no-print-directory lint sanity importer docs
endif
	VIRTOPS_STATIC_CHECKS=1 scripts/run-tests.sh $(PYTEST_ARGS)

setup:
	@[ "$${VIRTOPS_SETUP_DONE:-}" = 1 ] || scripts/setup.sh

lab-up: setup
	$(LAB) up --hosts 1 --iscsi --ovs

lab-down:
	$(LAB) down

lab-status:
	$(LAB) status

# three Debian hosts under systemd in systemd-nspawn, reached over SSH through .build/fleet/inventory.yml
fleet-up: setup
	$(LAB) fleet up

fleet-down:
	$(LAB) fleet down

fleet-status:
	$(LAB) fleet status

images: setup
	$(PY) -m lab.images build all

unit: setup
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

e2e: setup
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python bench/run.py

sanity: setup
	@scripts/sanity.sh

lint: setup
	@echo "[lint] ansible-lint"
	cd $(CURDIR) && $(VENV)/bin/ansible-lint --offline -q

build: setup
	@echo "[build] ansible-galaxy collection build"
	@mkdir -p .build/dist
	$(VENV)/bin/ansible-galaxy collection build --force --output-path .build/dist .

# galaxy-importer (what Galaxy and Automation Hub run on an upload) on the tarball build made
importer: setup
	@scripts/importer.sh

# antsibull-docs lint, then every module, plugin and role page and the guides as HTML in .build/docs/html
docs: setup
	@scripts/docs.sh

changelog: setup
	$(VENV)/bin/antsibull-changelog lint
