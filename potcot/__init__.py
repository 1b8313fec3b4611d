"""potcot: an inference server for math reasoning models with MAmmoTH-style hybrid decoding.

The distribution takes one import name. Its packages live in the repository's top-level folders and
are mapped here at install time (``server/`` is ``potcot.server``, ``sandbox/`` is
``potcot.sandbox``, ...), so potcot puts no generic names into site-packages.
"""
