"""Personas: sentence encoders and their cache, release scope, user vectors, clustering and persona cards."""
