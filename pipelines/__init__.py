"""What happens to each fetched item, one package per ``ITEM_PIPELINES`` stage, in order:
normalize (100) -> history (150) -> match (200) -> evidence (300) -> store (400).

``pipelines.store`` is the only door to storage (``open_store(url) -> Store``).
"""
