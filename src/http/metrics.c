/*
 * Prometheus text exposition of the runtime: see metrics.h.
 */
#include "http/metrics.h"

#include "http/bufprintf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tether.h"

/* A label value: backslash, double quote and newline escaped (the only
 * escapes the format has). */
static void put_label_value(tt_bytebuf *b, const char *s) {
  for (; s && *s; s++) {
    if (*s == '\\')
      tt__bytebuf_put(b, "\\\\", 2);
    else if (*s == '"')
      tt__bytebuf_put(b, "\\\"", 2);
    else if (*s == '\n')
      tt__bytebuf_put(b, "\\n", 2);
    else
      tt__bytebuf_put(b, s, 1);
  }
}

static void family(tt_bytebuf *b, const char *name, const char *type, const char *help) {
  tt__http_bufprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Threads of this process: the entries of /proc/self/task. */
static int64_t count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  int64_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* Resident set size in bytes: the second field of /proc/self/statm, in
 * pages. */
static int64_t resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return -1;
  char line[128];
  long long resident = -1;
  if (fgets(line, sizeof line, f)) {
    char *end;
    (void)strtoll(line, &end, 10); /* total program size: not used */
    char *rest = end;
    resident = strtoll(rest, &end, 10);
    if (end == rest)
      resident = -1;
  }
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return resident < 0 || page <= 0 ? -1 : resident * page;
}

static int64_t count_suspects(int64_t min_wait) {
  FILE *sink = fopen("/dev/null", "w");
  if (!sink)
    return -1;
  int64_t n = tt_leak_suspects(sink, min_wait);
  fclose(sink);
  return n;
}

int tt__http_metrics_write(tt_bytebuf *b, const tt_http_metrics_opts *opts) {
  int top = opts && opts->top_sites > 0 ? opts->top_sites : 10;
  int64_t min_wait =
      opts && opts->suspect_min_wait > 0 ? opts->suspect_min_wait : 60LL * 1000 * 1000 * 1000;
  tt_task_counts c;
  int rc = tt_count_tasks(&c);
  if (rc < 0)
    return rc;

  family(b, "tether_tasks", "gauge", "Live tasks by scheduling state.");
  tt__http_bufprintf(b, "tether_tasks{state=\"runnable\"} %lld\n", (long long)c.runnable);
  tt__http_bufprintf(b, "tether_tasks{state=\"running\"} %lld\n", (long long)c.running);
  tt__http_bufprintf(b, "tether_tasks{state=\"waiting\"} %lld\n", (long long)c.waiting);

  family(b, "tether_tasks_waiting", "gauge", "Waiting tasks by wait reason.");
  for (int i = 1; tt_wait_reason_name(i) && i < (int)(sizeof c.by_reason / sizeof c.by_reason[0]);
       i++) {
    tt__bytebuf_put(b, "tether_tasks_waiting{reason=\"", 29);
    put_label_value(b, tt_wait_reason_name(i));
    tt__http_bufprintf(b, "\"} %lld\n", (long long)c.by_reason[i]);
  }

  tt_site_count *sites = calloc((size_t)top, sizeof *sites);
  if (!sites)
    return TT_ENOMEM;
  int nsites = tt_count_by_site(sites, top);
  family(b, "tether_tasks_by_site", "gauge",
         "Live tasks by spawn site, the most populous sites only (see tether_spawn_sites).");
  for (int i = 0; i < nsites && i < top; i++) {
    tt__bytebuf_put(b, "tether_tasks_by_site{site=\"", 27);
    put_label_value(b, sites[i].file);
    tt__http_bufprintf(b, ":%d\",function=\"", sites[i].line);
    put_label_value(b, sites[i].entry ? sites[i].entry : sites[i].func);
    tt__http_bufprintf(b, "\"} %lld\n", (long long)sites[i].count);
  }
  free(sites);
  family(b, "tether_spawn_sites", "gauge", "Spawn sites with live tasks.");
  tt__http_bufprintf(b, "tether_spawn_sites %d\n", nsites < 0 ? 0 : nsites);

  family(b, "tether_leaks_found_total", "counter",
         "Tasks proven leaked since the process started.");
  tt__http_bufprintf(b, "tether_leaks_found_total %lld\n", (long long)tt_leak_count());
  int64_t suspects = count_suspects(min_wait);
  if (suspects >= 0) {
    family(b, "tether_leak_suspects", "gauge",
           "Tasks waiting longer than the suspect threshold that no proof covers.");
    tt__http_bufprintf(b, "tether_leak_suspects %lld\n", (long long)suspects);
  }
  family(b, "tether_context_lost_cancels_total", "counter",
         "Contexts whose cancel function was dropped without being called.");
  tt__http_bufprintf(b, "tether_context_lost_cancels_total %lld\n",
                     (long long)tt_context_lost_cancels());
  family(b, "tether_timers_orphaned", "gauge",
         "Running timers and tickers whose creating task has exited.");
  tt__http_bufprintf(b, "tether_timers_orphaned %lld\n", (long long)tt_timers_orphaned(NULL));
  family(b, "tether_workers", "gauge", "Worker threads running tasks.");
  tt__http_bufprintf(b, "tether_workers %d\n", tt_procs());

  int64_t threads = count_threads(), rss = resident_bytes();
  if (threads >= 0) {
    family(b, "process_threads", "gauge", "OS threads in the process.");
    tt__http_bufprintf(b, "process_threads %lld\n", (long long)threads);
  }
  if (rss >= 0) {
    family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    tt__http_bufprintf(b, "process_resident_memory_bytes %lld\n", (long long)rss);
  }
  return b->failed ? TT_ENOMEM : 0;
}
