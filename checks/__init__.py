"""Blocking asset checks: data-quality suites (great-expectations 1.x) and privacy scans."""
