"""The local stack: run the SAM application on one machine, without Docker.

`python -m devstack serve` for people, `devstack.stack.DevStack` for tests and scripts. The package
itself imports nothing heavy, so that `python -m devstack layer-requirements` stays instant.
"""
