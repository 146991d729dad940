// Memory handed to the host. Buffers the host fills or reads (inputs, outputs, index blobs)
// are plain heap blocks, not managed objects: the host owns them and frees them explicitly,
// and the GC never moves or collects them.

/** Allocates `size` bytes (16-byte aligned) and returns the pointer; 0 on failure is impossible: asc traps on OOM, so callers check `size` first. */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Releases a block returned by `alloc`. */
export function free(ptr: usize): void {
  if (ptr != 0) heap.free(ptr);
}

/** Grows or shrinks a block, keeping its contents. */
export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}
