/* The http benchmark's workload: an HTTP/1.1 server on 127.0.0.1 (a forked
 * child) and a client sending N keep-alive GETs one after another.
 *   httpload N [RATE [GATE]]  prints "<pid>" first, then "<median us>
 *                      <mean us>" of the request round trips; RATE: requests
 *                      per second, started on a fixed schedule (0 or none:
 *                      one after another as fast as they go); with GATE,
 *                      waits for that file before the timed requests.
 * Both halves give up after 120 s (alarm), so a stuck run cannot hang a
 * benchmark. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char REQ[] = "GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

/* reads until `end` has been seen (a request's or a response's end);
 * returns 0, or -1 when the peer closed */
static int read_until(int fd, const char *end)
{
	char buf[512];
	size_t have = 0, want = strlen(end);

	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		if (have >= want && !memcmp(buf + have - want, end, want))
			return 0;
		if (have == sizeof(buf) - 1)
			return -1;
	}
}

static void serve(int lfd)
{
	int fd = accept(lfd, NULL, NULL);

	alarm(120);
	while (fd >= 0 && read_until(fd, "\r\n\r\n") == 0)
		if (write(fd, RESP, sizeof(RESP) - 1) != (ssize_t)sizeof(RESP) - 1)
			break;
	_exit(0);
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	double rate = argc > 2 ? atof(argv[2]) : 0;
	struct timespec next;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct timespec ms = { 0, 1000000 };
	int one = 1, lfd, fd;
	double *lat, sum = 0;
	pid_t server;

	if (n < 1 || n > 10000000 || !(lat = calloc((size_t)n, sizeof(*lat))))
		return 2;
	alarm(120);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, len) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("httpload: listen");
		return 1;
	}
	server = fork();
	if (server == 0)
		serve(lfd);
	close(lfd);
	printf("%d\n", (int)getpid());
	fflush(stdout);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len)) {
		perror("httpload: connect");
		kill(server, SIGKILL);
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (argc > 3)
		for (int i = 0; i < 60000 && access(argv[3], F_OK); i++)
			nanosleep(&ms, NULL);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < n; i++) {
		if (rate > 0) { /* the next slot of the schedule */
			long step = (long)(1e9 / rate);

			next.tv_nsec += step;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
		double t0 = now_us();

		if (write(fd, REQ, sizeof(REQ) - 1) != (ssize_t)sizeof(REQ) - 1 || read_until(fd, "\r\n\r\nok")) {
			fprintf(stderr, "httpload: request %ld failed\n", i);
			kill(server, SIGKILL);
			return 1;
		}
		lat[i] = now_us() - t0;
		sum += lat[i];
	}
	close(fd);
	waitpid(server, NULL, 0);
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("%.1f %.1f\n", lat[n / 2], sum / (double)n);
	free(lat);
	return 0;
}
