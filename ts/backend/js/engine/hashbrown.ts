// The capacities a Rust std HashMap (hashbrown 0.16, rustc 1.95's std) reports, for maps
// created empty (HashMap::with_hasher) that are only inserted into: the exact table's
// `bytes_per_key` is computed from them, so they are emulated here.
//
// hashbrown: capacity_to_buckets(cap) is 4 below 4, 8 below 8, else
// next_power_of_two(cap * 8 / 7); bucket_mask_to_capacity(buckets) is buckets - 1 up to 8
// buckets, else buckets / 8 * 7. reserve(1) on a full table (growth_left 0, which without
// erasures means items == capacity) resizes to hold max(items + 1, full_capacity + 1) items.
// When reserve(1) runs differs by API: `entry()` reserves only for a vacant key (so the
// capacity is a function of the item count), but `insert()` reserves before looking the key
// up, so inserting a key already present into a full table grows it too.

export function capacityToBuckets(cap: number): number {
  if (cap < 8) return cap < 4 ? 4 : 8;
  let buckets = 1;
  const adjusted = Math.floor((cap * 8) / 7);
  while (buckets < adjusted) buckets *= 2;
  return buckets;
}

export function bucketsToCapacity(buckets: number): number {
  return buckets <= 8 ? buckets - 1 : (buckets / 8) * 7;
}

/** The capacity after reserve(1) on a full table of capacity `cap`. */
export function grownCapacity(cap: number): number {
  return bucketsToCapacity(capacityToBuckets(cap + 1));
}

/** `HashMap::capacity()` after `entry()` inserted `items` distinct keys into an empty map. */
export function hashbrownCapacity(items: number): number {
  let cap = 0;
  while (cap < items) cap = grownCapacity(cap);
  return cap;
}
