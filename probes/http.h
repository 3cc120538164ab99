/* Shared by probes/http.c and scripts/http.lua, which reads these #defines
 * through probe.constants("http.h"): one definition of each. */
#define BL_DIR_SEND 0
#define BL_DIR_RECV 1
#define BL_DIR_CLOSED 2      /* the event only says the connection closed */
#define BL_TLS_FD 0xffffffff /* the payload is TLS cleartext (SSL_read/SSL_write) */
