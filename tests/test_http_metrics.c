/*
 * test_http_metrics: the Prometheus exposition of the runtime
 * (src/http/metrics.c), read back by a strict parser of the text format
 * written here: metric and label names, label value escapes, float values,
 * one HELP and one TYPE per family before its samples, families not
 * interleaved, no duplicate series, counters named *_total. The parser is
 * first shown to reject each kind of malformed input. Then, with tasks
 * parked at a known spawn site, the numbers must be the runtime's: tasks by
 * state and wait reason, that site among the top sites, workers, threads
 * and resident memory from /proc.
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>

#include "http/metrics.h"

/* ---- a strict parser of the text format ---------------------------------- */

#define MAX_FAMILIES 64
#define MAX_SERIES 512

typedef struct prom {
  char families[MAX_FAMILIES][128];
  char types[MAX_FAMILIES][16];
  bool has_help[MAX_FAMILIES];
  int nsamples[MAX_FAMILIES];
  int nfamilies;
  char series[MAX_SERIES][512]; /* name{labels} as written */
  double values[MAX_SERIES];
  int nseries;
  char error[256];
} prom;

static bool is_name_start(char c) { return isalpha((unsigned char)c) || c == '_' || c == ':'; }
static bool is_name_char(char c) { return is_name_start(c) || isdigit((unsigned char)c); }

static int family_index(prom *p, const char *name) {
  for (int i = 0; i < p->nfamilies; i++)
    if (strcmp(p->families[i], name) == 0)
      return i;
  return -1;
}

static bool fail(prom *p, int line, const char *why) {
  snprintf(p->error, sizeof p->error, "line %d: %s", line, why);
  return false;
}

/* The family a sample belongs to: its name, or the name without a
 * histogram/summary suffix. */
static int sample_family(prom *p, const char *name) {
  int i = family_index(p, name);
  static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
  for (int k = 0; i < 0 && k < 3; k++) {
    size_t n = strlen(name), s = strlen(suffixes[k]);
    if (n > s && strcmp(name + n - s, suffixes[k]) == 0) {
      char base[128];
      snprintf(base, sizeof base, "%.*s", (int)(n - s), name);
      i = family_index(p, base);
    }
  }
  return i;
}

static bool prom_parse(prom *p, const char *text) {
  memset(p, 0, sizeof *p);
  size_t len = strlen(text);
  if (len == 0 || text[len - 1] != '\n')
    return fail(p, 0, "must end with a newline");
  int current = -1, line = 0;
  for (const char *s = text; *s; line++) {
    const char *eol = strchr(s, '\n');
    char buf[1024];
    size_t n = (size_t)(eol - s);
    if (n >= sizeof buf)
      return fail(p, line, "line too long");
    memcpy(buf, s, n);
    buf[n] = 0;
    s = eol + 1;
    if (n == 0)
      return fail(p, line, "empty line");
    if (buf[0] == '#') {
      char kw[8], name[128];
      int used = 0;
      if (sscanf(buf, "# %7s %127s %n", kw, name, &used) < 2 ||
          (strcmp(kw, "HELP") && strcmp(kw, "TYPE")))
        continue; /* a plain comment */
      if (!is_name_start(name[0]))
        return fail(p, line, "bad metric name in comment");
      for (char *c = name; *c; c++)
        if (!is_name_char(*c))
          return fail(p, line, "bad metric name in comment");
      int i = family_index(p, name);
      if (i < 0) {
        if (p->nfamilies == MAX_FAMILIES)
          return fail(p, line, "too many families");
        i = p->nfamilies++;
        snprintf(p->families[i], sizeof p->families[i], "%s", name);
      } else if (i != current) {
        return fail(p, line, "family described twice or after others");
      }
      current = i;
      if (strcmp(kw, "HELP") == 0) {
        if (p->has_help[i])
          return fail(p, line, "second HELP");
        p->has_help[i] = true;
      } else {
        const char *t = buf + used;
        if (p->types[i][0])
          return fail(p, line, "second TYPE");
        if (p->nsamples[i])
          return fail(p, line, "TYPE after samples");
        if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
            strcmp(t, "summary") && strcmp(t, "untyped"))
          return fail(p, line, "unknown type");
        snprintf(p->types[i], sizeof p->types[i], "%s", t);
        if (strcmp(t, "counter") == 0 &&
            (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
          return fail(p, line, "counter not named *_total");
      }
      continue;
    }
    /* A sample: name [{labels}] value [timestamp]. */
    const char *c = buf;
    char name[128];
    size_t k = 0;
    if (!is_name_start(*c))
      return fail(p, line, "bad metric name");
    while (is_name_char(*c) && k < sizeof name - 1)
      name[k++] = *c++;
    name[k] = 0;
    int fam = sample_family(p, name);
    if (fam < 0)
      return fail(p, line, "sample without HELP/TYPE");
    if (fam != current)
      return fail(p, line, "sample away from its family");
    if (!p->types[fam][0] || !p->has_help[fam])
      return fail(p, line, "family without TYPE or HELP");
    const char *series_start = buf;
    if (*c == '{') {
      c++;
      char seen[16][64];
      int nseen = 0;
      while (*c != '}') {
        char lname[64];
        k = 0;
        if (!(isalpha((unsigned char)*c) || *c == '_'))
          return fail(p, line, "bad label name");
        while ((isalnum((unsigned char)*c) || *c == '_') && k < sizeof lname - 1)
          lname[k++] = *c++;
        lname[k] = 0;
        if (strncmp(lname, "__", 2) == 0)
          return fail(p, line, "reserved label name");
        for (int j = 0; j < nseen; j++)
          if (strcmp(seen[j], lname) == 0)
            return fail(p, line, "label twice");
        if (nseen < 16)
          snprintf(seen[nseen++], 64, "%s", lname);
        if (*c++ != '=' || *c++ != '"')
          return fail(p, line, "label without =\"");
        while (*c != '"') {
          if (!*c)
            return fail(p, line, "open label value");
          if (*c == '\\') {
            c++;
            if (*c != '\\' && *c != '"' && *c != 'n')
              return fail(p, line, "bad escape in label value");
          }
          c++;
        }
        c++;
        if (*c == ',')
          c++;
        else if (*c != '}')
          return fail(p, line, "labels not separated by ','");
      }
      c++;
    }
    size_t series_len = (size_t)(c - series_start);
    if (*c++ != ' ' || *c == ' ' || *c == '\t')
      return fail(p, line, "not one space before the value");
    char *end;
    double v = strtod(c, &end);
    if (end == c)
      return fail(p, line, "bad value");
    if (*end == ' ') {
      char *tend;
      (void)strtoll(end + 1, &tend, 10);
      if (tend == end + 1 || *tend)
        return fail(p, line, "bad timestamp");
    } else if (*end) {
      return fail(p, line, "junk after the value");
    }
    if (isnan(v) && strcmp(c, "NaN") != 0)
      return fail(p, line, "bad NaN");
    for (int j = 0; j < p->nseries; j++)
      if (strlen(p->series[j]) == series_len && memcmp(p->series[j], series_start, series_len) == 0)
        return fail(p, line, "duplicate series");
    if (p->nseries == MAX_SERIES)
      return fail(p, line, "too many series");
    snprintf(p->series[p->nseries], sizeof p->series[0], "%.*s", (int)series_len, series_start);
    p->values[p->nseries++] = v;
    p->nsamples[fam]++;
  }
  return true;
}

/* The value of a series written exactly as `series`, or NAN. */
static double value_of(const prom *p, const char *series) {
  for (int i = 0; i < p->nseries; i++)
    if (strcmp(p->series[i], series) == 0)
      return p->values[i];
  return NAN;
}

static void test_checker_rejects(void) {
  static const char *const bad[] = {
      "x 1\n",                                        /* no HELP/TYPE */
      "# HELP x h\n# TYPE x gauge\nx 1",              /* no final newline */
      "# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n",     /* open label value */
      "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n", /* bad escape */
      "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
      "# HELP x h\n# TYPE x gauge\nx{1a=\"1\"} 1\n",
      "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n", /* duplicate series */
      "# HELP x h\n# TYPE x gauge\nx one\n",
      "# HELP x h\n# TYPE x gauge\nx 1 2 3\n",
      "# HELP x h\n# TYPE x gauge\nx  1\n",
      "# HELP x h\n# TYPE x counter\nx 1\n", /* counter without _total */
      "# HELP x h\n# TYPE x gauge\n# TYPE x gauge\nx 1\n",
      "# HELP x h\n# TYPE x gauges\nx 1\n",
      "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\ny 1\nx 1\n", /* interleaved */
      "# HELP x h\n# TYPE x gauge\n\nx 1\n",
      "# HELP 1x h\n# TYPE 1x gauge\n1x 1\n",
      "# HELP x h\nx 1\n# TYPE x gauge\n", /* TYPE after samples */
  };
  prom p;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(!prom_parse(&p, bad[i]), "accepted: %s", bad[i]);
  CHECK(prom_parse(&p,
                   "# a comment\n# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"\\\\\\n\",b=\"\"} -1.5e3 "
                   "1700000000000\nx{a=\"2\"} +Inf\nx NaN\n"));
  CHECK_MSG(p.nseries == 3, "%s", p.error);
}

/* ---- the runtime's exposition ------------------------------------------ */

#define NPARKED 7
static tt_chan *g_park;
static tt_wg *g_wg;

static void parked_in_metrics_test(void *arg) {
  (void)arg;
  tt_chan_recv(g_park, NULL);
  tt_wg_done(g_wg);
}

static void main_task(void *arg) {
  (void)arg;
  g_park = tt_chan_make(sizeof(int), 0);
  g_wg = tt_wg_make();
  tt_wg_add(g_wg, NPARKED);
  int spawn_line = __LINE__ + 2;
  for (int i = 0; i < NPARKED; i++)
    tt_go(parked_in_metrics_test, NULL);
  tt_sleep(TT_MS(20));

  tt_bytebuf b = {0};
  CHECK_EQ(tt__http_metrics_write(&b, &(tt_http_metrics_opts){.top_sites = 3}), 0);
  tt__bytebuf_put(&b, "", 1);
  CHECK(!b.failed);
  const char *text = (const char *)b.data;
  static prom p;
  CHECK_MSG(prom_parse(&p, text), "%s\n%s", p.error, text);
  if (getenv("TT_SHOW_METRICS"))
    fputs(text, stdout);

  CHECK(value_of(&p, "tether_tasks{state=\"waiting\"}") >= NPARKED);
  CHECK(value_of(&p, "tether_tasks{state=\"running\"}") >= 1); /* this task */
  CHECK(value_of(&p, "tether_tasks_waiting{reason=\"chan receive\"}") >= NPARKED);
  CHECK_EQ(value_of(&p, "tether_tasks_waiting{reason=\"select\"}"), 0);
  char series[512];
  snprintf(series, sizeof series,
           "tether_tasks_by_site{site=\"%s:%d\",function=\"parked_in_metrics_test\"}", __FILE__,
           spawn_line);
  CHECK_MSG(value_of(&p, series) == NPARKED, "no %s in\n%s", series, text);
  int by_site = 0;
  for (int i = 0; i < p.nseries; i++)
    by_site += strncmp(p.series[i], "tether_tasks_by_site{", 21) == 0;
  CHECK(by_site >= 1 && by_site <= 3);
  CHECK(value_of(&p, "tether_spawn_sites") >= 1);
  CHECK_EQ(value_of(&p, "tether_workers"), tt_procs());
  CHECK(value_of(&p, "process_threads") >= tt_procs());
  CHECK(value_of(&p, "process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value_of(&p, "tether_leaks_found_total") >= 0);
  CHECK_EQ(value_of(&p, "tether_leak_suspects"), 0); /* nobody waited a minute */
  CHECK_EQ(value_of(&p, "tether_context_lost_cancels_total"), tt_context_lost_cancels());
  CHECK_EQ(value_of(&p, "tether_timers_orphaned"), 0);
  free(b.data);

  /* With a 1 ns threshold the parked tasks are suspects: the option counts. */
  tt_bytebuf b2 = {0};
  CHECK_EQ(tt__http_metrics_write(&b2, &(tt_http_metrics_opts){.suspect_min_wait = 1}), 0);
  tt__bytebuf_put(&b2, "", 1);
  CHECK_MSG(prom_parse(&p, (const char *)b2.data), "%s", p.error);
  CHECK(value_of(&p, "tether_leak_suspects") >= NPARKED);
  free(b2.data);

  tt_chan_close(g_park);
  tt_wg_wait(g_wg);
  tt_chan_unref(g_park);
  tt_wg_free(g_wg);
}

int main(void) {
  tt_test_watchdog(120);
  test_checker_rejects();
  tt_bytebuf b = {0};
  CHECK_EQ(tt__http_metrics_write(&b, NULL), TT_ENOTINIT); /* no runtime yet */
  free(b.data);
  CHECK_EQ(tt_main(main_task, NULL), 0);
  return TEST_REPORT();
}
