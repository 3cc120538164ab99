#include "types.h"

#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
	int is_signed;
	enum bl_kind kind;
} base_types[] = {
	{ "char", 1, 1, BL_INT },
	{ "signed char", 1, 1, BL_INT },
	{ "unsigned char", 1, 0, BL_INT },
	{ "_Bool", 1, 0, BL_INT },
	{ "short", 2, 1, BL_INT },
	{ "unsigned short", 2, 0, BL_INT },
	{ "int", 4, 1, BL_INT },
	{ "unsigned int", 4, 0, BL_INT },
	{ "long", 8, 1, BL_INT },
	{ "unsigned long", 8, 0, BL_INT },
	{ "long long", 8, 1, BL_INT },
	{ "unsigned long long", 8, 0, BL_INT },
	{ "__int128", 16, 1, BL_BYTES },
	{ "unsigned __int128", 16, 0, BL_BYTES },
	{ "float", 4, 1, BL_BYTES },
	{ "double", 8, 1, BL_BYTES },
	{ "void *", 8, 0, BL_INT },
	/* typedefs as they appear in perf-event field lists */
	{ "u8", 1, 0, BL_INT }, { "u16", 2, 0, BL_INT }, { "u32", 4, 0, BL_INT }, { "u64", 8, 0, BL_INT },
	{ "s8", 1, 1, BL_INT }, { "s16", 2, 1, BL_INT }, { "s32", 4, 1, BL_INT }, { "s64", 8, 1, BL_INT },
	{ "__u8", 1, 0, BL_INT }, { "__u16", 2, 0, BL_INT }, { "__u32", 4, 0, BL_INT }, { "__u64", 8, 0, BL_INT },
	{ "__s8", 1, 1, BL_INT }, { "__s16", 2, 1, BL_INT }, { "__s32", 4, 1, BL_INT }, { "__s64", 8, 1, BL_INT },
	{ "uint8_t", 1, 0, BL_INT }, { "uint16_t", 2, 0, BL_INT }, { "uint32_t", 4, 0, BL_INT },
	{ "uint64_t", 8, 0, BL_INT }, { "int8_t", 1, 1, BL_INT }, { "int16_t", 2, 1, BL_INT },
	{ "int32_t", 4, 1, BL_INT }, { "int64_t", 8, 1, BL_INT }, { "pid_t", 4, 1, BL_INT },
	{ "uid_t", 4, 0, BL_INT }, { "gid_t", 4, 0, BL_INT }, { "size_t", 8, 0, BL_INT },
	{ "ssize_t", 8, 1, BL_INT }, { "bool", 1, 0, BL_INT }, { "__be16", 2, 0, BL_INT },
	{ "__be32", 4, 0, BL_INT }, { "unsigned", 4, 0, BL_INT }, { "long int", 8, 1, BL_INT },
	{ "long unsigned int", 8, 0, BL_INT }, { "short int", 2, 1, BL_INT },
	{ "short unsigned int", 2, 0, BL_INT }, { "long long int", 8, 1, BL_INT },
	{ "long long unsigned int", 8, 0, BL_INT }, { "u128", 16, 0, BL_BYTES },
};

static struct bl_type *new_type(enum bl_kind kind)
{
	struct bl_type *t = calloc(1, sizeof(*t));

	if (t)
		t->kind = kind;
	return t;
}

struct bl_type *bl_type_scalar(size_t size, int is_signed)
{
	struct bl_type *t;

	if (size != 1 && size != 2 && size != 4 && size != 8) {
		t = new_type(BL_BYTES);
		if (t)
			t->size = size, t->align = 1;
		return t;
	}
	t = new_type(BL_INT);
	if (t)
		t->size = t->align = size, t->is_signed = is_signed;
	return t;
}

static struct bl_type *base_type(const char *name)
{
	/* enums and pointers come through under their own names */
	if (!strncmp(name, "enum ", 5))
		return bl_type_scalar(4, 0);
	if (strchr(name, '*'))
		return bl_type_scalar(8, 0);
	for (size_t i = 0; i < sizeof(base_types) / sizeof(base_types[0]); i++) {
		if (strcmp(base_types[i].name, name))
			continue;
		struct bl_type *t = new_type(base_types[i].kind);

		if (t) {
			t->size = base_types[i].size;
			t->align = base_types[i].size;
			t->is_signed = base_types[i].is_signed;
		}
		return t;
	}
	return NULL;
}

void bl_type_free(struct bl_type *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nfields; i++) {
		free(t->fields[i].name);
		bl_type_free(t->fields[i].type);
	}
	free(t->fields);
	bl_type_free(t->elem);
	free(t);
}

/* Wraps elem in arrays, innermost dimension last as C writes them. */
static struct bl_type *make_array(struct bl_type *elem, const size_t *dims, size_t ndims)
{
	for (size_t i = ndims; i-- > 0;) {
		struct bl_type *a;

		/* char[N] is text, cut at its NUL; unsigned char / u8 arrays are
		 * raw bytes (addresses, payloads), every one of them */
		if (elem->kind == BL_INT && elem->size == 1 && i == ndims - 1) {
			a = new_type(elem->is_signed ? BL_CHARS : BL_BYTES);
			if (!a)
				goto fail;
			a->count = dims[i];
			a->size = dims[i];
			a->align = 1;
			bl_type_free(elem);
			elem = a;
			continue;
		}
		a = new_type(BL_ARRAY);
		if (!a)
			goto fail;
		a->count = dims[i];
		a->elem = elem;
		a->size = elem->size * dims[i];
		a->align = elem->align;
		elem = a;
	}
	return elem;
fail:
	bl_type_free(elem);
	return NULL;
}

static struct bl_type *parse_node(json_object *j);

static size_t align_up(size_t v, size_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

/* Lays out fields as the compiler does: each at its natural alignment, or
 * byte-packed for `struct_packed`; a union puts every field at 0. */
static int layout(struct bl_type *t, int packed, int is_union)
{
	size_t off = 0, align = 1;

	for (size_t i = 0; i < t->nfields; i++) {
		struct bl_type *ft = t->fields[i].type;
		size_t a = packed ? 1 : ft->align;

		if (is_union) {
			t->fields[i].offset = 0;
			if (ft->size > off)
				off = ft->size;
		} else {
			off = align_up(off, a);
			t->fields[i].offset = off;
			off += ft->size;
		}
		if (a > align)
			align = a;
	}
	t->align = align;
	t->size = align_up(off, align);
	return 0;
}

static struct bl_type *parse_struct(json_object *j)
{
	json_object *jfields = json_object_array_get_idx(j, 1);
	json_object *jkind = json_object_array_get_idx(j, 2);
	const char *kind = jkind ? json_object_get_string(jkind) : "struct";
	size_t n = json_object_array_length(jfields);
	struct bl_type *t = new_type(BL_STRUCT);

	if (!t)
		return NULL;
	t->fields = calloc(n ? n : 1, sizeof(*t->fields));
	if (!t->fields)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		json_object *jf = json_object_array_get_idx(jfields, i);
		json_object *jname, *jtype, *jdims;
		struct bl_type *ft;

		if (!json_object_is_type(jf, json_type_array) || json_object_array_length(jf) < 2)
			goto fail;
		jname = json_object_array_get_idx(jf, 0);
		jtype = json_object_array_get_idx(jf, 1);
		jdims = json_object_array_get_idx(jf, 2);
		/* a bare integer is a bitfield width: not decodable byte-wise */
		if (jdims && !json_object_is_type(jdims, json_type_array))
			goto fail;
		ft = parse_node(jtype);
		if (!ft)
			goto fail;
		if (jdims) {
			size_t nd = json_object_array_length(jdims), dims[8];

			if (nd > 8) {
				bl_type_free(ft);
				goto fail;
			}
			for (size_t d = 0; d < nd; d++)
				dims[d] = (size_t)json_object_get_int64(json_object_array_get_idx(jdims, d));
			ft = make_array(ft, dims, nd);
			if (!ft)
				goto fail;
		}
		t->fields[i].name = strdup(json_object_get_string(jname));
		t->fields[i].type = ft;
		t->nfields = i + 1;
		if (!t->fields[i].name)
			goto fail;
	}
	layout(t, !strcmp(kind, "struct_packed"), !strcmp(kind, "union"));
	return t;
fail:
	bl_type_free(t);
	return NULL;
}

static struct bl_type *parse_node(json_object *j)
{
	if (json_object_is_type(j, json_type_string))
		return base_type(json_object_get_string(j));
	if (!json_object_is_type(j, json_type_array) || json_object_array_length(j) < 2)
		return NULL;
	json_object *second = json_object_array_get_idx(j, 1);

	/* ["unsigned long long", [127]]: an array type */
	if (json_object_is_type(second, json_type_array) &&
	    json_object_is_type(json_object_array_get_idx(j, 0), json_type_string) &&
	    json_object_array_length(second) > 0 &&
	    json_object_is_type(json_object_array_get_idx(second, 0), json_type_int)) {
		size_t nd = json_object_array_length(second), dims[8];
		struct bl_type *elem;

		if (nd > 8)
			return NULL;
		elem = base_type(json_object_get_string(json_object_array_get_idx(j, 0)));
		if (!elem)
			return NULL;
		for (size_t d = 0; d < nd; d++)
			dims[d] = (size_t)json_object_get_int64(json_object_array_get_idx(second, d));
		return make_array(elem, dims, nd);
	}
	if (json_object_is_type(second, json_type_array))
		return parse_struct(j);
	return NULL;
}

int bl_type_parse(const char *desc, struct bl_type **out)
{
	json_object *j;
	struct bl_type *t;

	*out = NULL;
	if (!desc || !*desc)
		return -EINVAL;
	j = json_tokener_parse(desc);
	if (!j)
		return -EINVAL;
	t = parse_node(j);
	json_object_put(j);
	if (!t)
		return -EINVAL;
	*out = t;
	return 0;
}

/* "comm#char[16]" or "pid#unsigned int": libbcc's perf-event field syntax. */
static int parse_field(const char *spec, struct bl_field *f)
{
	const char *hash = strrchr(spec, '#');
	char type[128];
	size_t dims[8], nd = 0, tl;
	char *br;

	if (!hash || hash == spec)
		return -EINVAL;
	tl = strlen(hash + 1);
	if (tl >= sizeof(type))
		return -EINVAL;
	memcpy(type, hash + 1, tl + 1);
	br = strchr(type, '[');
	if (br) {
		char *p = br;

		while (*p == '[' && nd < 8) {
			char *end;

			dims[nd++] = strtoul(p + 1, &end, 10);
			if (*end != ']')
				return -EINVAL;
			p = end + 1;
		}
		while (br > type && br[-1] == ' ')
			br--;
		*br = '\0';
	}
	f->type = base_type(type);
	if (!f->type)
		return -EINVAL;
	if (nd) {
		f->type = make_array(f->type, dims, nd);
		if (!f->type)
			return -ENOMEM;
	}
	f->name = strndup(spec, (size_t)(hash - spec));
	return f->name ? 0 : -ENOMEM;
}

int bl_type_from_fields(const char *const *fields, size_t n, struct bl_type **out)
{
	struct bl_type *t = new_type(BL_STRUCT);
	int err = 0;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->fields = calloc(n ? n : 1, sizeof(*t->fields));
	if (!t->fields) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		err = parse_field(fields[i], &t->fields[i]);
		if (err) {
			bl_type_free(t->fields[i].type);
			free(t->fields[i].name);
			goto fail;
		}
		t->nfields = i + 1;
	}
	layout(t, 0, 0);
	*out = t;
	return 0;
fail:
	bl_type_free(t);
	return err;
}

int64_t bl_type_read_int(const struct bl_type *t, const void *p)
{
	switch (t->size) {
	case 1: return t->is_signed ? *(const int8_t *)p : *(const uint8_t *)p;
	case 2: { int16_t s; uint16_t u; memcpy(&s, p, 2); memcpy(&u, p, 2); return t->is_signed ? s : u; }
	case 4: { int32_t s; uint32_t u; memcpy(&s, p, 4); memcpy(&u, p, 4); return t->is_signed ? s : (int64_t)u; }
	default: { int64_t v; memcpy(&v, p, 8); return v; }
	}
}

void bl_type_write_int(const struct bl_type *t, void *p, int64_t v)
{
	switch (t->size) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}
