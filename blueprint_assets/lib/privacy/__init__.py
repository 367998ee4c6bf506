"""Privacy: identifier patterns, presidio recognizers, the anonymizer, keyed pseudonyms, scans and opt-outs."""
