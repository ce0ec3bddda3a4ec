#ifndef SWARMFS_CFUZZERDRIVER_H
#define SWARMFS_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). The fuzz executables call it from
// their own main: SwiftPM links an executable with main aliased to `<module>_main`, so libFuzzer's
// own main() cannot be the entry point.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
