/* struct bl_object <-> bytes: how a compiled program crosses from the
 * compiler process to the tracer, and how the cache stores it. */
#ifndef BPFLUA_SERIALIZE_H
#define BPFLUA_SERIALIZE_H

#include <stddef.h>

#include "object.h"

/* *buf is malloc'd. Returns 0 or -ENOMEM. */
int bl_object_encode(const struct bl_object *obj, unsigned char **buf, size_t *len);

/* Returns 0, or -EBADMSG for bytes that are not a whole, valid object
 * (truncated, corrupt or from another format version). */
int bl_object_decode(const unsigned char *buf, size_t len, struct bl_object **out);

#endif
