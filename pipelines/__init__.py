"""What happens to each fetched page, in order: normalize -> matcher -> evidence -> store.

``pipelines.store`` is the only door to storage (``open_store(url) -> Store``).
"""
