"""Run a great-expectations 1.x suite on a DataFrame and summarise it without leaking values.

dagster-ge does not support GE 1.x, so checks call GE directly. Failure messages name the
expectation and column and give counts only: unexpected *values* can be personal data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass(frozen=True)
class SuiteOutcome:
    """Whether a suite passed, and one line per failed expectation (no data values)."""

    success: bool
    failures: tuple[str, ...]
    evaluated: int

    def and_then(self, other: SuiteOutcome) -> SuiteOutcome:
        """This outcome and `other`'s, as one suite's."""
        return SuiteOutcome(
            success=self.success and other.success,
            failures=self.failures + other.failures,
            evaluated=self.evaluated + other.evaluated,
        )

    def describe(self, table: str) -> str:
        if self.success:
            return f"{table}: all {self.evaluated} expectations passed"
        return f"{table}: " + "; ".join(self.failures)


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GE fingerprints every frame under this many bytes by hashing all its values (a batch marker; no
    # expectation reads it). That cost more than the whole suite: ~1.3 s for a million rows.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("blueprint")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def run_suite(frame: pd.DataFrame, expectations: list, name: str) -> SuiteOutcome:
    """Validate `frame` against `expectations` (GE expectation objects)."""
    import great_expectations as gx

    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(gx.ExpectationSuite(name=name, expectations=expectations))
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        count = (item.result or {}).get("unexpected_count")
        where = f" on column {column!r}" if column else ""
        counted = f" ({count} rows)" if count is not None else ""
        failures.append(f"{config.type}{where} failed{counted}")
    return SuiteOutcome(success=bool(result.success), failures=tuple(failures), evaluated=len(result.results))


def expectations():
    """The GE expectations namespace (imported lazily: GE is slow to import)."""
    import great_expectations as gx

    return gx.expectations
