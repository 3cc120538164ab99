/* The format: little-endian u32 counts and lengths, strings as length +
 * bytes (length 0xffffffff for NULL), instructions as raw 8-byte records in
 * the host's order, as the kernel takes them (the cache key names the
 * kernel build, so an entry never meets another architecture).
 * Decoding checks every length against what is left, so a truncated or
 * corrupt buffer is refused, never read past. */
#include "serialize.h"
#include "grow.h"

#include <endian.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_MAGIC 0x314c5042u /* "BPL1" */
#define NULL_STR 0xffffffffu

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->oom)
		return;
	if (bl_grow((void **)&w->p, &w->cap, w->len + n, 1, 4096)) {
		w->oom = 1;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	v = htole32(v);
	put(w, &v, sizeof(v));
}

static void put_str(struct wbuf *w, const char *s)
{
	if (!s) {
		put_u32(w, NULL_STR);
		return;
	}
	put_u32(w, (uint32_t)strlen(s));
	put(w, s, strlen(s));
}

int bl_object_encode(const struct bl_object *obj, unsigned char **buf, size_t *len)
{
	struct wbuf w = { 0 };

	put_u32(&w, FORMAT_MAGIC);
	put_str(&w, obj->license);
	put_u32(&w, obj->kern_version);
	put_u32(&w, (uint32_t)obj->nmaps);
	for (size_t i = 0; i < obj->nmaps; i++) {
		const struct bl_map_spec *m = &obj->maps[i];

		put_str(&w, m->name);
		put_u32(&w, (uint32_t)m->type);
		put_u32(&w, m->key_size);
		put_u32(&w, m->value_size);
		put_u32(&w, m->max_entries);
		put_u32(&w, m->flags);
		put_str(&w, m->key_desc);
		put_str(&w, m->leaf_desc);
		put_u32(&w, (uint32_t)m->nevent_fields);
		for (size_t f = 0; f < m->nevent_fields; f++)
			put_str(&w, m->event_fields[f]);
	}
	put_u32(&w, (uint32_t)obj->nfuncs);
	for (size_t i = 0; i < obj->nfuncs; i++) {
		put_str(&w, obj->funcs[i].name);
		put_u32(&w, (uint32_t)obj->funcs[i].ninsns);
		put(&w, obj->funcs[i].insns, obj->funcs[i].ninsns * sizeof(struct bpf_insn));
	}
	if (w.oom) {
		free(w.p);
		return -ENOMEM;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

struct rbuf {
	const unsigned char *p;
	size_t left;
	int bad;
};

static int get(struct rbuf *r, void *out, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = 1;
		memset(out, 0, n);
		return -1;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	uint32_t v = 0;

	get(r, &v, sizeof(v));
	return le32toh(v);
}

/* A count of items at least `min_size` bytes each must fit in what is left:
 * a corrupt count cannot make us allocate gigabytes. */
static size_t get_count(struct rbuf *r, size_t min_size)
{
	uint32_t n = get_u32(r);

	if (r->bad || (size_t)n > r->left / min_size) {
		r->bad = 1;
		return 0;
	}
	return n;
}

static char *get_str(struct rbuf *r)
{
	uint32_t n = get_u32(r);
	char *s;

	if (n == NULL_STR || r->bad)
		return NULL;
	if (n > r->left) {
		r->bad = 1;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		r->bad = 1;
		return NULL;
	}
	get(r, s, n);
	s[n] = '\0';
	return s;
}

int bl_object_decode(const unsigned char *buf, size_t len, struct bl_object **out)
{
	struct rbuf r = { buf, len, 0 };
	struct bl_object *obj;

	*out = NULL;
	if (get_u32(&r) != FORMAT_MAGIC)
		return -EBADMSG;
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	obj->license = get_str(&r);
	obj->kern_version = get_u32(&r);
	obj->nmaps = get_count(&r, 32);
	obj->maps = calloc(obj->nmaps + 1, sizeof(*obj->maps));
	if (!obj->maps)
		r.bad = 1;
	for (size_t i = 0; i < obj->nmaps && !r.bad; i++) {
		struct bl_map_spec *m = &obj->maps[i];

		m->name = get_str(&r);
		m->type = (int)get_u32(&r);
		m->key_size = get_u32(&r);
		m->value_size = get_u32(&r);
		m->max_entries = get_u32(&r);
		m->flags = get_u32(&r);
		m->key_desc = get_str(&r);
		m->leaf_desc = get_str(&r);
		m->nevent_fields = get_count(&r, 4);
		m->event_fields = calloc(m->nevent_fields + 1, sizeof(char *));
		if (!m->event_fields) {
			m->nevent_fields = 0;
			r.bad = 1;
		}
		for (size_t f = 0; f < m->nevent_fields && !r.bad; f++)
			m->event_fields[f] = get_str(&r);
		if (!m->name)
			r.bad = 1;
	}
	if (!r.bad) {
		obj->nfuncs = get_count(&r, 8);
		obj->funcs = calloc(obj->nfuncs + 1, sizeof(*obj->funcs));
		if (!obj->funcs) {
			obj->nfuncs = 0;
			r.bad = 1;
		}
	}
	for (size_t i = 0; i < obj->nfuncs && !r.bad; i++) {
		struct bl_func *f = &obj->funcs[i];

		f->name = get_str(&r);
		f->ninsns = get_count(&r, sizeof(struct bpf_insn));
		f->insns = malloc(f->ninsns * sizeof(struct bpf_insn) + 1);
		if (!f->name || !f->insns) {
			r.bad = 1;
			break;
		}
		get(&r, f->insns, f->ninsns * sizeof(struct bpf_insn));
		/* map references must point at a map of this object */
		for (size_t k = 0; k < f->ninsns && !r.bad; k++)
			if (bl_insn_is_map_ref(&f->insns[k]) && (size_t)f->insns[k].imm >= obj->nmaps)
				r.bad = 1;
	}
	if (r.bad || r.left || !obj->license) {
		bl_object_free(obj);
		return -EBADMSG;
	}
	*out = obj;
	return 0;
}
