"""Benchmarks of the crawler, and the generated web they crawl (``benchmarks.web``)."""
