"""The run tags BluePrint reads and writes, named once (the CLI, the automation, the deployments and the tests).

Dagster's own tags select a run's partitions; `WRITER_TAG` is ours: the deployed run queue
(deployments/dagster.yaml, helm values) lets one run at a time carry each of its values, so two runs never
write the same partition at once.
"""

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
WRITER_TAG = "blueprint/partition-writer"  # value: <job>/<partition or window>
