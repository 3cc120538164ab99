/* A TCP connection's endpoints as sock:inet_sock_set_state hands them over
 * (ports in host order, addresses as bytes): no kernel struct is read.
 * Events embed the fields themselves, not a nested struct, so they decode
 * field by field in user space. */
#define AF_INET 2

#define BL_ENDPOINT_FIELDS   \
	u16 family;          \
	u16 lport;           \
	u16 rport;           \
	u16 __pad_ep; /* __pad*: not decoded */ \
	u8 laddr[16];        \
	u8 raddr[16];

struct endpoints {
	BL_ENDPOINT_FIELDS
};

/* fills a struct with BL_ENDPOINT_FIELDS from the tracepoint's args */
#define BL_ENDPOINTS(ep, args)                                                \
	do {                                                                  \
		(ep)->family = (args)->family;                                \
		(ep)->lport = (args)->sport;                                  \
		(ep)->rport = (args)->dport;                                  \
		if ((args)->family == AF_INET) {                              \
			__builtin_memcpy(&(ep)->laddr, (args)->saddr, 4);     \
			__builtin_memcpy(&(ep)->raddr, (args)->daddr, 4);     \
		} else {                                                      \
			__builtin_memcpy(&(ep)->laddr, (args)->saddr_v6, 16); \
			__builtin_memcpy(&(ep)->raddr, (args)->daddr_v6, 16); \
		}                                                             \
	} while (0)

#define BL_COPY_ENDPOINTS(dst, src)                                    \
	do {                                                           \
		(dst)->family = (src)->family;                         \
		(dst)->lport = (src)->lport;                           \
		(dst)->rport = (src)->rport;                           \
		__builtin_memcpy(&(dst)->laddr, (src)->laddr, 16);     \
		__builtin_memcpy(&(dst)->raddr, (src)->raddr, 16);     \
	} while (0)
