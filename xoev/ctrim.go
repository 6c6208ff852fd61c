package xoev

/*
#include <malloc.h>
*/
import "C"

// releaseFreedCMemory hands the C heap's free pages back to the kernel.
// libxml2 allocates a compiled schema set in many small blocks; after it is
// freed, glibc keeps the pages in its arena (it trims only the arena's top),
// so without this the resident memory of a schema compiled and freed at
// start-up would stay. malloc_trim(0) releases every whole free page in all
// arenas (glibc ≥ 2.8; the hub is built against glibc, see the Makefile).
func releaseFreedCMemory() { C.malloc_trim(0) }
