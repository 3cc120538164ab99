/* `bpflua` on a terminal: a Lua REPL with the BPF API and one-liners. */
#ifndef BPFLUA_REPL_H
#define BPFLUA_REPL_H

#include <lua.h>

/* Runs until Ctrl-D; returns the exit status. */
int bl_repl(lua_State *L);

#endif
