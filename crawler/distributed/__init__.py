"""The distributed mode: one sweep's frontier on a Redis server, taken by any number of workers.

``netsword crawl --site S --distributed`` seeds a sweep in Redis (:mod:`.sweeps`); ``netsword
worker`` processes (:mod:`.worker`) on any machine that reaches Redis and the store take its
requests through scrapy-redis's scheduler (:mod:`.scheduler`) with a leased queue
(:mod:`.queue`: a request a killed worker held goes back after ``NETSWORD_REDIS_LEASE_SECONDS``)
and a Bloom-filter duplicate filter in Redis (:mod:`.dupefilter`). Politeness holds for the sum
of all workers (:mod:`.limiter`, :mod:`.robots`); workers beat into Redis (:mod:`.health`), and
``netsword runs`` shows and steers the sweeps (:mod:`.commands`). Key names: :mod:`.keys`.

The embedded mode (one process, Scrapy's own scheduler, ``crawler.frontier``) stays the default;
nothing here is imported unless a sweep is distributed.
"""
