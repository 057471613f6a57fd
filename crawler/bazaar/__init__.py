"""仿真集市 (the bazaar): a local marketplace that behaves like a real platform (login, JSON API, walls)."""
