/* A compiled BPF program as plain data: what `compile` produces, what the
 * cache stores and what `load` turns into kernel objects.
 *
 * Map references inside instructions hold the map's index in `maps`, not a
 * file descriptor, so the same object loads in any process. */
#ifndef BPFLUA_OBJECT_H
#define BPFLUA_OBJECT_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

struct bl_map_spec {
	char *name;
	int type; /* enum bpf_map_type */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t flags;
	char *key_desc;  /* libbcc's JSON type description, may be NULL */
	char *leaf_desc;
	/* For perf and ring buffers: the event struct, as libbcc's "name#type"
	 * field list (empty when the program never submits through it). */
	size_t nevent_fields;
	char **event_fields;
};

struct bl_func {
	char *name;
	struct bpf_insn *insns;
	size_t ninsns;
};

struct bl_object {
	char *license;
	unsigned kern_version;
	size_t nmaps;
	struct bl_map_spec *maps;
	size_t nfuncs;
	struct bl_func *funcs;
};

/* A 16-byte load of a map's fd or value address: the instructions whose imm
 * holds a map (an index in an object, an fd once loaded). */
static inline int bl_insn_is_map_ref(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_IMM | BPF_DW) &&
	       (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE);
}

void bl_object_free(struct bl_object *obj);
const struct bl_func *bl_object_func(const struct bl_object *obj, const char *name);
int bl_object_map_index(const struct bl_object *obj, const char *name);

#endif
