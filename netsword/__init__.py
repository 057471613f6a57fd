"""The foundation room: what every other room may import, and which imports nothing of ours.

* :mod:`netsword.config` -- data home, store URL, evidence, rules, sites, campaigns, cache and
  job folders; the config file; precedence defaults < config file < environment < command line.
"""
