-- A metrics declaration for the agent's test (lua/bpflua/exporter.lua):
-- getppid calls by command, and failed syscalls by command, syscall and
-- errno, straight from this file's own BPF maps.
return {
  name = "test_getppid",
  description = "getppid calls by command; failed syscalls by command, syscall and errno",
  text = [[
struct comm_key { char comm[16]; };
struct err_key { char comm[16]; u32 nr; u32 err; };
BPF_HASH(calls, struct comm_key, u64, 1024);
BPF_HASH(errors, struct err_key, u64, 1024);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	struct comm_key k = {};

	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	calls.increment(k);
	return 0;
}

TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
	struct err_key k = {};

	if (args->ret >= 0)
		return 0;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	k.nr = args->id;
	k.err = -args->ret;
	errors.increment(k);
	return 0;
}
]],
  metrics = {
    { type = "counter", name = "bpflua_test_getppid_total", help = "getppid calls by command", table = "calls",
      labels = { { name = "comm", decode = "comm" } } },
    { type = "counter", name = "bpflua_test_errors_total", help = "failed syscalls", table = "errors",
      labels = { { name = "comm", decode = "comm" }, { name = "syscall", field = "nr", decode = "syscall" },
                 { name = "errno", field = "err", decode = "errno" } } },
  },
}
