/* C types of map keys, values and events, as libbcc describes them.
 *
 * libbcc hands out each table's key and leaf type as a JSON description
 * (`"unsigned int"`, `["key_t", [["pid", "unsigned int"], ["comm", "char", [16]]], "struct"]`)
 * and each event struct as a list of `name#type` fields. This file turns
 * both into one tree with sizes and offsets, laid out as the C compiler lays
 * them out, so bytes from the kernel can be decoded without LLVM. */
#ifndef BPFLUA_TYPES_H
#define BPFLUA_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum bl_kind {
	BL_INT,    /* signed or unsigned integer of size 1, 2, 4, 8 */
	BL_BYTES,  /* opaque bytes: __int128, float, anything not decoded */
	BL_CHARS,  /* char[N]: a string cut at the first NUL */
	BL_ARRAY,  /* elem[N] */
	BL_STRUCT, /* also unions: every field has offset 0 */
};

struct bl_field;

struct bl_type {
	enum bl_kind kind;
	size_t size;
	size_t align;
	int is_signed;
	size_t count;            /* BL_ARRAY, BL_CHARS */
	struct bl_type *elem;    /* BL_ARRAY */
	size_t nfields;          /* BL_STRUCT */
	struct bl_field *fields; /* BL_STRUCT */
};

struct bl_field {
	char *name;
	size_t offset;
	struct bl_type *type;
};

/* Parses libbcc's JSON description. Returns 0 or -EINVAL. */
int bl_type_parse(const char *desc, struct bl_type **out);

/* Builds a struct from libbcc's perf-event field list ("pid#unsigned int",
 * "comm#char[16]"). */
int bl_type_from_fields(const char *const *fields, size_t n, struct bl_type **out);

/* A plain scalar, used for maps whose description is missing. */
struct bl_type *bl_type_scalar(size_t size, int is_signed);

void bl_type_free(struct bl_type *t);

/* Reads an integer of t's size and signedness from p. */
int64_t bl_type_read_int(const struct bl_type *t, const void *p);
void bl_type_write_int(const struct bl_type *t, void *p, int64_t v);

#endif
