"""harness: a model-card-driven STS benchmarking harness for sentence-embedding models."""

__version__ = "0.1.0"
