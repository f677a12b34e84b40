# The two commands of the README: `make demo` and `make test`. Both set everything up first.
.PHONY: setup test demo lint bench eval

setup:
	@bash scripts/setup.sh

test: setup
	.venv/bin/python -m pytest -q -ra

demo: setup
	.venv/bin/python pipelines/demo.py --out out/demo

lint: setup
	.venv/bin/ruff check reenact pipelines tests benchmarks cli.py scripts
	.venv/bin/python scripts/check_sizes.py

bench: setup
	.venv/bin/python benchmarks/bench_aus.py
	.venv/bin/python benchmarks/bench_pipeline.py

eval: setup
	.venv/bin/python benchmarks/eval_quality.py
