/* TCP states as sock:inet_sock_set_state reports them (include/net/tcp_states.h):
 * one copy for every snippet that follows a connection's life. */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
