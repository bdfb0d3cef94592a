# Convenience wrappers; the README's commands work without make.
PY ?= python3.11

.PHONY: demo test env
demo:
	$(PY) bootstrap.py demo
test:
	$(PY) bootstrap.py test
env:
	$(PY) bootstrap.py env
