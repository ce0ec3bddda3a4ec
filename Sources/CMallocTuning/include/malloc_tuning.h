#ifndef SWARMFS_MALLOC_TUNING_H
#define SWARMFS_MALLOC_TUNING_H

/// Tunes glibc malloc for a long-running daemon that moves large buffers between threads:
/// at most `arenas` arenas, and allocations of `mmap_threshold` bytes or more always mmap'd (a
/// fixed threshold also stops glibc from raising it after each free, which would move megabyte
/// buffers into arenas that never give them back). Returns 0 when both settings took.
int swarmfs_tune_malloc(int arenas, int mmap_threshold);

#endif
