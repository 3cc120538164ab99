#include "syscalls.h"

#include <stddef.h>
#include <string.h>

struct entry {
	int nr;
	const char *name;
};

static const struct entry table[] = {
#include "syscall_table.inc"
};

const char *bl_syscall_name(int nr)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].nr == nr)
			return table[i].name;
	return NULL;
}

int bl_syscall_number(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return table[i].nr;
	return -1;
}
