"""Operator tools that run on a workstation, not in Lambda: kept out of the layer."""
