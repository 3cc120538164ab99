/* Where an entry uprobe costs one trap instead of two.
 *
 * The kernel runs the instruction under a uprobe either by emulating it (the
 * x86 branches: jmp, jcc and call with a relative target) or by copying it
 * out of line and single-stepping it, which takes a second trap. On a VM the
 * second trap can be most of the probe's cost: glibc's free() starts with
 * `test %rdi,%rdi` (stepped) and then `je` (emulated); on the 6.18 VM this
 * was written on, a hit at free+0 cost 9.8 us and one at free+3 0.5 us.
 *
 * A probe on the first emulated instruction sees the same calls with the
 * same arguments when every instruction before it changes nothing but the
 * flags and cannot fault (test, cmp, nop on registers or the binary's own
 * data) and nothing branches into the span between the entry and that
 * instruction. Both are checked by disassembling the whole function
 * (capstone), found by its symbol's address and size in an x86-64 ELF;
 * where anything is in doubt, the probe stays at the entry. What a program
 * sees differently: the flags register, and the instruction pointer.
 *
 * What one function's disassembly cannot see, and compilers do not make:
 * a branch from another symbol (a `.cold` part returns to labels after the
 * branch that left, not into the test before it), a computed call or
 * push+ret into the span, a symbol whose size is understated, and
 * instructions that overlap. Hand-written assembly can do all four; an
 * attack on this file (helper-made victims) did, and found the probe
 * counting extra calls. */
#include <capstone/capstone.h>
#include <bcc/bcc_elf.h>
#include <bcc/bcc_syms.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "../symbols.h"

#define MAX_FUNC (1 << 20) /* larger is not a function's body */
#define MAX_SKIP 4         /* flags-only instructions passed over, at most */

struct sym_size {
	const char *name;
	uint64_t addr; /* the symbol's address: another of that name is another function */
	uint64_t size;
	int doubt; /* no size, or two of them: which bytes are the function? */
};

static int find_size(const char *name, uint64_t addr, uint64_t size, void *payload)
{
	struct sym_size *s = payload;

	if (addr == s->addr && !strcmp(name, s->name)) {
		s->doubt |= !size || (s->size && s->size != size);
		s->size = size;
	}
	return 0;
}

/* The address of file offset off in an x86-64 ELF's executable segment;
 * 0 for any other file (an i386 binary decodes otherwise). */
static uint64_t code_address(int fd, uint64_t off)
{
	Elf *e;
	GElf_Ehdr eh;
	size_t n;
	uint64_t addr = 0;

	if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(fd, ELF_C_READ, NULL)))
		return 0;
	if (gelf_getehdr(e, &eh) && eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64 &&
	    !elf_getphdrnum(e, &n)) {
		for (size_t i = 0; i < n && !addr; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
			    off >= ph.p_offset && off < ph.p_offset + ph.p_filesz)
				addr = off - ph.p_offset + ph.p_vaddr;
		}
	}
	elf_end(e);
	return addr;
}

/* jmp, jcc and call with a relative target and no prefix: what the kernel
 * emulates (arch/x86/kernel/uprobes.c, branch_setup_xol_ops) on every
 * kernel bpflua runs on */
static int emulated(const cs_insn *in)
{
	const uint8_t *b = in->bytes;

	for (int i = 0; i < 4; i++)
		if (in->detail->x86.prefix[i])
			return 0;
	return (b[0] >= 0x70 && b[0] <= 0x7f) || b[0] == 0xeb || b[0] == 0xe9 || b[0] == 0xe8 ||
	       (in->size == 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f);
}

/* Changes the flags and nothing else, and cannot fault: a call that
 * faulted there would never reach the probe. Memory is read only from the
 * binary's own data (rip-relative), which is mapped. */
static int flags_only(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != X86_INS_TEST && in->id != X86_INS_CMP && in->id != X86_INS_NOP)
		return 0;
	if (x->prefix[0] == 0xf0) /* lock: #UD */
		return 0;
	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM &&
		    (x->operands[i].mem.base != X86_REG_RIP || x->operands[i].mem.index != X86_REG_INVALID))
			return 0;
	return 1;
}

/* capstone 4 leaves the loop family out of its jump group */
static int is_jump(csh cs, const cs_insn *in)
{
	return cs_insn_group(cs, in, CS_GRP_JUMP) || in->id == X86_INS_LOOP || in->id == X86_INS_LOOPE ||
	       in->id == X86_INS_LOOPNE;
}

/* The offset of the first emulated instruction of code[0..n), or 0 when
 * the probe must stay at the entry. One instruction at a time: a large
 * function costs time, not memory. */
static uint64_t probe_point(csh cs, const uint8_t *code, size_t n)
{
	cs_insn *in = cs_malloc(cs);
	const uint8_t *p = code;
	size_t left = n;
	uint64_t addr = 0, at = 0;

	if (!in)
		return 0;
	for (int i = 0; i <= MAX_SKIP && cs_disasm_iter(cs, &p, &left, &addr, in); i++) {
		if (emulated(in)) {
			at = in->address;
			break;
		}
		if (!flags_only(in))
			break;
	}
	p = code;
	left = n;
	addr = 0;
	while (at && left && cs_disasm_iter(cs, &p, &left, &addr, in)) {
		const cs_x86 *x = &in->detail->x86;
		int jump = is_jump(cs, in);

		if (!jump && !cs_insn_group(cs, in, CS_GRP_CALL))
			continue;
		if (x->op_count < 1 || x->operands[0].type != X86_OP_IMM) {
			if (jump) /* an indirect jump may land anywhere */
				at = 0;
			continue;
		}
		if (x->operands[0].imm > 0 && (uint64_t)x->operands[0].imm <= at)
			at = 0; /* a branch into the span: that instruction has other callers */
	}
	if (left) /* bytes capstone could not read: nothing is known */
		at = 0;
	cs_free(in, 1);
	return at;
}

uint64_t bl_uprobe_emulated(const char *path, const char *sym, uint64_t off)
{
	struct bcc_symbol_option opt = *bl_sym_options(); /* libbcc writes to it */
	struct sym_size s = { .name = sym };
	uint64_t at = 0;
	uint8_t *code;
	csh cs;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return off;
	s.addr = code_address(fd, off);
	if (s.addr)
		bcc_elf_foreach_sym(path, find_size, &opt, &s);
	if (!s.size || s.doubt || s.size > MAX_FUNC) {
		close(fd);
		return off;
	}
	code = malloc(s.size);
	if (code && pread(fd, code, s.size, (off_t)off) == (ssize_t)s.size &&
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) == CS_ERR_OK) {
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		at = probe_point(cs, code, s.size);
		cs_close(&cs);
	}
	free(code);
	close(fd);
	return off + at;
}
