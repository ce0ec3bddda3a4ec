#ifndef SWARMFS_CFUSE3_SHIM_H
#define SWARMFS_CFUSE3_SHIM_H
// libfuse's headers need <stddef.h> first and an API version before inclusion.
#include <stddef.h>
#include <sys/types.h>
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#endif
