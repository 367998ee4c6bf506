"""How the lake stores the thread tables (`action_threads`, `action_splits`; docs/tables.md).

In memory a message's `actions` is a struct of 13 flags (`ACTIONS_TYPE`), as the release publishes it. In the
lake it is one int16 whose bit i is flag i (`ACTION_ORDER`), null where the struct is null: one Parquet leaf
instead of 13, each with its own repetition and definition levels, so writing the nested table takes about
half the time and reading it about 60%. `to_lake` encodes a table for writing, `from_lake` decodes what was
read; a table already in the struct form (a partition written before this layout) is read as it is.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.release.thread_table import ACTIONS_TYPE, MESSAGE_TYPE

FLAGS_TYPE = pa.int16()
assert len(ACTIONS_TYPE) < 16, "every flag needs a bit of the int16"
LAKE_MESSAGE_TYPE = pa.struct(
    [field if field.name != "actions" else pa.field("actions", FLAGS_TYPE) for field in MESSAGE_TYPE]
)


def to_lake(table: pa.Table) -> pa.Table:
    """`table` with each message's actions struct as its int16 of flags (other columns as they are)."""
    actions = _actions_type(table)
    if actions != ACTIONS_TYPE:  # the bits follow ACTIONS_TYPE's order of flags
        raise ValueError(f"a thread table's actions must be {ACTIONS_TYPE}, got {actions}")
    return _with_messages(table, _flags_of, LAKE_MESSAGE_TYPE)


def from_lake(table: pa.Table) -> pa.Table:
    """A thread table as read from the lake, with each message's actions as the struct of flags again."""
    actions = _actions_type(table)
    if pa.types.is_struct(actions):  # the struct form: nothing to decode
        return table
    if actions != FLAGS_TYPE:
        raise ValueError(f"a thread table's actions must be a struct of flags or {FLAGS_TYPE}, got {actions}")
    return _with_messages(table, _struct_of, MESSAGE_TYPE)


def _actions_type(table: pa.Table) -> pa.DataType:
    return table.schema.field("thread").type.value_type.field("actions").type


def _with_messages(table: pa.Table, convert, message_type: pa.StructType) -> pa.Table:
    """`table` with the `actions` of its `thread` column's messages converted, chunk by chunk (a chunk
    may be a slice of a larger array: only its own messages are converted)."""
    at = table.schema.get_field_index("thread")
    item = table.schema.field(at).type.value_field  # its name ("item", or "element" as Parquet reads it)
    list_type = pa.list_(pa.field(item.name, message_type, nullable=item.nullable))
    chunks = []
    for chunk in table.column(at).chunks:
        offsets = chunk.offsets.to_numpy()
        messages = chunk.flatten()  # this chunk's messages only, whatever array it slices
        fields = [messages.field(i) for i in range(messages.type.num_fields)]
        actions = message_type.get_field_index("actions")
        fields[actions] = convert(fields[actions])
        rebuilt = pa.StructArray.from_arrays(fields, fields=list(message_type))
        starts = pa.array(offsets - offsets[0], pa.int32())
        chunks.append(pa.ListArray.from_arrays(starts, rebuilt, type=list_type))
    column = pa.chunked_array(chunks, list_type)
    return table.set_column(at, pa.field("thread", list_type, nullable=False), column)


def _flags_of(actions: pa.StructArray) -> pa.Array:
    """Each actions struct as an int16 with bit i set where flag i is (null where the struct is null)."""
    flags = np.zeros(len(actions), dtype=np.int16)
    for bit in range(actions.type.num_fields):
        flags |= actions.field(bit).to_numpy(zero_copy_only=False).astype(np.int16) << bit
    valid = actions.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(flags, FLAGS_TYPE, mask=~valid)


def _struct_of(flags: pa.Array) -> pa.StructArray:
    """The inverse of `_flags_of`: the struct of flags (False under a null struct, as never written)."""
    valid = flags.is_valid().to_numpy(zero_copy_only=False)
    values = flags.fill_null(0).to_numpy(zero_copy_only=False)
    columns = [pa.array((values >> bit) & 1 == 1, pa.bool_()) for bit in range(len(ACTIONS_TYPE))]
    return pa.StructArray.from_arrays(columns, fields=list(ACTIONS_TYPE), mask=pa.array(~valid))
