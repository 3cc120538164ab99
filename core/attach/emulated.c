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
 * flags (test, cmp, nop) and nothing branches into the span between the
 * entry and that instruction. Both are checked by disassembling the whole
 * function (capstone); where either is in doubt, the probe stays at the
 * entry. What a program sees differently: the flags register, and the
 * instruction pointer (the probed address). Not seen: branches from outside
 * the symbol's bytes (a `.cold` part); compilers send those back to labels
 * after the branch that left, not into the test before it. */
#include <capstone/capstone.h>
#include <bcc/bcc_elf.h>
#include <bcc/bcc_syms.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "../symbols.h"

#define MAX_FUNC (1 << 20) /* larger is not a function's body */
#define MAX_SKIP 4         /* flags-only instructions passed over, at most */

struct sym_size {
	const char *name;
	uint64_t size;
	int conflict; /* two symbols of that name, of other sizes: which is it? */
};

static int find_size(const char *name, uint64_t addr, uint64_t size, void *payload)
{
	struct sym_size *s = payload;

	(void)addr;
	if (size && !strcmp(name, s->name)) {
		s->conflict |= s->size && s->size != size;
		s->size = size;
	}
	return 0;
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

/* changes the flags and nothing else: no register, no memory, no branch */
static int flags_only(const cs_insn *in)
{
	return in->id == X86_INS_TEST || in->id == X86_INS_CMP || in->id == X86_INS_NOP;
}

/* The offset of the first emulated instruction of code[0..n), or 0 when
 * the probe must stay at the entry. */
static uint64_t probe_point(csh cs, const uint8_t *code, size_t n)
{
	cs_insn *ins;
	size_t count = cs_disasm(cs, code, n, 0, 0, &ins);
	uint64_t at = 0, covered = 0;
	size_t i;

	for (i = 0; i < count && i <= MAX_SKIP; i++) {
		if (emulated(&ins[i])) {
			at = ins[i].address;
			break;
		}
		if (!flags_only(&ins[i]))
			break;
	}
	for (i = 0; at && i < count; i++) {
		const cs_x86 *x = &ins[i].detail->x86;
		int jump = cs_insn_group(cs, &ins[i], CS_GRP_JUMP);

		covered += ins[i].size;
		if (!jump && !cs_insn_group(cs, &ins[i], CS_GRP_CALL))
			continue;
		if (x->op_count < 1 || x->operands[0].type != X86_OP_IMM) {
			if (jump) /* an indirect jump may land anywhere */
				at = 0;
			continue;
		}
		if (x->operands[0].imm > 0 && (uint64_t)x->operands[0].imm <= at)
			at = 0; /* a branch into the span: that instruction has other callers */
	}
	if (covered != n) /* bytes capstone could not read: nothing is known */
		at = 0;
	cs_free(ins, count);
	return at;
}

uint64_t bl_uprobe_emulated(const char *path, const char *sym, uint64_t off)
{
	struct bcc_symbol_option opt = *bl_sym_options(); /* libbcc writes to it */
	struct sym_size s = { .name = sym };
	uint64_t at = 0;
	uint8_t *code;
	csh cs;
	int fd;

	bcc_elf_foreach_sym(path, find_size, &opt, &s);
	if (!s.size || s.conflict || s.size > MAX_FUNC)
		return off;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return off;
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
