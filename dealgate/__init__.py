"""Dealgate: stage-gated sales pipelines."""
