#include "object.h"

#include <stdlib.h>
#include <string.h>

void bl_object_free(struct bl_object *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct bl_map_spec *m = &obj->maps[i];

		free(m->name);
		free(m->key_desc);
		free(m->leaf_desc);
		for (size_t f = 0; f < m->nevent_fields; f++)
			free(m->event_fields[f]);
		free(m->event_fields);
	}
	free(obj->maps);
	for (size_t i = 0; i < obj->nfuncs; i++) {
		free(obj->funcs[i].name);
		free(obj->funcs[i].insns);
	}
	free(obj->funcs);
	free(obj->license);
	free(obj);
}

const struct bl_func *bl_object_func(const struct bl_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->nfuncs; i++)
		if (!strcmp(obj->funcs[i].name, name))
			return &obj->funcs[i];
	return NULL;
}

int bl_object_map_index(const struct bl_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->nmaps; i++)
		if (!strcmp(obj->maps[i].name, name))
			return (int)i;
	return -1;
}
