/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 keep-alive benchmark server on State Threads: one st thread per
 * connection doing st_read / st_write, the main thread accepting.  The
 * epoll event system when libst has it, else poll (see main).  The read
 * buffer is on the thread's stack; stacks are 16 KiB like the libcoop
 * server's.  Set HTTP_ST_VERBOSE to print the event system chosen.
 *
 * usage: http-st PORT
 */
#define _GNU_SOURCE
#include <st.h>

#include "http-common.h"

#define STACK_SIZE 16384

static void *serve(void *arg)
{
    st_netfd_t nfd = arg;
    char buf[HTTP_BUF_SIZE];
    size_t len = 0, scanned = 0;

    for (;;) {
        ssize_t r = st_read(nfd, buf + len, HTTP_BUF_SIZE - len,
                            ST_UTIME_NO_TIMEOUT);
        if (r <= 0)
            break;
        len += (size_t)r;
        size_t used;
        size_t n = http_scan(buf, len, &used, &scanned);
        len = http_compact(buf, len, used);
        if (n == 0) {
            if (len == HTTP_BUF_SIZE)
                break;
            continue;
        }
        size_t out = n * HTTP_RESPONSE_LEN;
        if (st_write(nfd, http_responses, out, ST_UTIME_NO_TIMEOUT)
            != (ssize_t)out)
            break;
    }
    st_netfd_close(nfd);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = http_port(argc, argv);
    http_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    http_init_responses();

    /* epoll when the library has it.  Debian's libst1 1.9 is built
     * without: ST_EVENTSYS_ALT then "succeeds" but selects nothing, and
     * st_init() would fall back to select() and its 1024-descriptor
     * limit; poll() has no such limit. */
    st_set_eventsys(ST_EVENTSYS_ALT);
    if (strcmp(st_get_eventsys_name(), "epoll") != 0)
        st_set_eventsys(ST_EVENTSYS_POLL);
    if (getenv("HTTP_ST_VERBOSE"))
        fprintf(stderr, "st: event system %s\n", st_get_eventsys_name());
    if (st_init() < 0) {
        perror("st_init");
        return 1;
    }
    int lfd = http_listen(port, 0);     /* st makes it non-blocking */
    st_netfd_t lnfd = st_netfd_open_socket(lfd);
    if (lnfd == NULL) {
        perror("st_netfd_open_socket");
        return 1;
    }
    for (;;) {
        st_netfd_t c = st_accept(lnfd, NULL, NULL, ST_UTIME_NO_TIMEOUT);
        if (c == NULL) {
            if (errno != EINTR && errno != ECONNABORTED)
                st_usleep(1000);        /* e.g. EMFILE: back off */
            continue;
        }
        http_nodelay(st_netfd_fileno(c));
        if (st_thread_create(serve, c, 0, STACK_SIZE) == NULL)
            st_netfd_close(c);
    }
}
