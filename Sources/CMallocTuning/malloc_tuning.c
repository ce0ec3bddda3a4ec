#include "malloc_tuning.h"

#include <malloc.h>

int swarmfs_tune_malloc(int arenas, int mmap_threshold) {
    int ok = mallopt(M_ARENA_MAX, arenas);
    ok &= mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    return ok ? 0 : -1;
}
