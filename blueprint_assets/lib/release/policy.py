"""Release policy numbers that settings, resources and pure code share, named once.

A light module (no heavy imports): `blueprint_assets/settings.py` reads its defaults from here at start-up.
"""

# Persona cards of clusters smaller than this quote no post a text search could find (lib/personas/cards.py,
# lib/release/audit/evidence.py `findable_keys`); BLUEPRINT_QUOTE_MIN_CLUSTER_SIZE overrides it.
QUOTE_MIN_CLUSTER_SIZE = 50
