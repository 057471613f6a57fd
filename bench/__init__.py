"""Benchmarks that print tables (`make bench`). Never timed assertions: figures for people."""
