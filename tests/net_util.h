/*
 * Helpers for the network tests: counting open descriptors and threads,
 * a listener on a kernel-chosen loopback port.
 */
#ifndef TT_TEST_NET_UTIL_H
#define TT_TEST_NET_UTIL_H

#include <dirent.h>
#include <stdio.h>

#include "tether.h"

/* Entries of a /proc/self directory (minus . and ..): open descriptors
 * (fd) or threads (task). */
static inline __attribute__((unused)) int tt_test_count_dir(const char *path) {
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - (strcmp(path, "/proc/self/fd") == 0); /* the DIR's own descriptor */
}

static inline __attribute__((unused)) int tt_test_open_fds(void) {
  return tt_test_count_dir("/proc/self/fd");
}
static inline __attribute__((unused)) int tt_test_threads(void) {
  return tt_test_count_dir("/proc/self/task");
}

/* Listen on 127.0.0.1 at a port the kernel picks; its number in *port
 * (as a string, for tt_tcp_connect). */
static inline __attribute__((unused)) int tt_test_listen(tt_fd *l, char port[16]) {
  int rc = tt_tcp_listen("127.0.0.1", "0", TT_TCP_REUSEADDR, l);
  if (rc < 0)
    return rc;
  snprintf(port, 16, "%d", tt_sock_port(*l));
  return 0;
}

#endif
