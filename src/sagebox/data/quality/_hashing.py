"""64-bit hashes of Arrow values, vectorised, for distinct counts and duplicate rows.

A value hashes the same whatever batch it arrives in: integers and floats hash as float64
(so ``1`` in an int64 batch, in a batch with nulls and in a double column hash alike;
integers above 2**53 may share a hash with a neighbour), ``-0.0`` is ``0.0``, and every
missing value (null or NaN) hashes to :data:`NULL_HASH`. Lists and structs hash their
contents, so two rows that differ only inside a nested record are not duplicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_LIST_SEED = np.uint64(0xC2B2AE3D27D4EB4F)
_STRUCT_SEED = np.uint64(0x165667B19E3779F9)


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads any uint64 input over all 64 bits."""
    z = values.astype(np.uint64, copy=True)
    z += np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def combine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """An order-sensitive combination of two hash arrays (``combine(a, b) != combine(b, a)``)."""
    return mix(left * np.uint64(0x100000001B3) ^ right)


def missing_mask(array: pa.Array) -> np.ndarray:
    """Where ``array`` holds null, or NaN for floating-point arrays."""
    mask = np.asarray(array.is_null(), dtype=bool)
    if pa.types.is_floating(array.type):
        mask |= np.asarray(pc.is_nan(array).fill_null(False), dtype=bool)
    return mask


def hash_array(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One uint64 per element of ``array``; equal values (nested ones too) hash equal."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_dictionary(kind):
        return hash_array(array.dictionary_decode())
    if pa.types.is_struct(kind):
        return _hash_struct(array)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _hash_list(array)
    if pa.types.is_map(kind):
        return _hash_list(as_list(array))
    missing = missing_mask(array)
    hashed = _hash_primitive(array)
    hashed[missing] = NULL_HASH
    return hashed


def as_list(array: pa.Array) -> pa.Array:
    """A map array as the list of ``{key, value}`` structs it is; other arrays unchanged."""
    if not pa.types.is_map(array.type):
        return array
    entry = pa.struct([("key", array.type.key_type), ("value", array.type.item_type)])
    return array.cast(pa.list_(entry))


def _hash_primitive(array: pa.Array) -> np.ndarray:
    kind = array.type
    if pa.types.is_null(kind):
        return np.full(len(array), NULL_HASH, dtype=np.uint64)
    if pa.types.is_boolean(kind):
        values = pc.fill_null(array.cast(pa.int64()), 0).to_numpy()
        return mix(values.view(np.uint64))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        # Integers hash as the float of the same value, so a column that is int64 in one
        # file and double in another still counts 1 and 1.0 as one value.
        filled = pc.fill_null(array, pa.scalar(0, array.type))
        values = filled.to_numpy(zero_copy_only=False).astype(np.float64) + 0.0
        return mix(values.view(np.uint64))
    if pa.types.is_temporal(kind) and not pa.types.is_interval(kind):
        widened = array.cast(pa.int64()) if kind.bit_width == 64 else array.cast(pa.int32())
        values = pc.fill_null(widened.cast(pa.int64()), 0).to_numpy()
        return mix(values.view(np.uint64))
    # Strings, binary, decimals and anything else: hash each distinct value once.
    encoded = pc.dictionary_encode(array)
    dictionary = encoded.dictionary.to_numpy(zero_copy_only=False)
    if not pa.types.is_string(kind) and not pa.types.is_large_string(kind):
        dictionary = dictionary.astype(str).astype(object)
    table = pd.util.hash_array(dictionary, categorize=False).astype(np.uint64)
    indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
    return table[indices] if len(table) else np.full(len(array), NULL_HASH, dtype=np.uint64)


def _hash_struct(array: pa.Array) -> np.ndarray:
    hashed = np.full(len(array), _STRUCT_SEED, dtype=np.uint64)
    for child in array.flatten():
        hashed = combine(hashed, hash_array(child))
    hashed[np.asarray(array.is_null(), dtype=bool)] = NULL_HASH
    return hashed


def _hash_list(array: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy().astype(np.int64)
    element = hash_array(array.flatten())
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else lengths
    position = np.arange(len(element), dtype=np.int64) - np.repeat(starts, lengths)
    # Mixing each element with its position makes the sum order-sensitive.
    mixed = combine(mix(position.view(np.uint64)), element)
    running = np.concatenate(([np.uint64(0)], np.cumsum(mixed, dtype=np.uint64)))
    ends = np.cumsum(lengths)
    sums = running[ends] - running[ends - lengths]
    hashed = combine(mix(lengths.view(np.uint64) ^ _LIST_SEED), sums)
    hashed[np.asarray(array.is_null(), dtype=bool)] = NULL_HASH
    return hashed
