/*
 * sieve: the concurrent prime sieve of the Go tour. A generator task sends
 * 2, 3, 4, ... on an unbuffered channel; the main task takes the first
 * value as the next prime p and puts a filter task for p at the end of the
 * chain (it passes on what p does not divide, over a new unbuffered
 * channel), 5,000 times. The primes are checked against a plain sieve (the
 * 5,000th is 48611). The generator and the 5,000 filters are left blocked,
 * as the Go program leaves them: tt_main drops them when the main task
 * returns. Reports total ms. Go twin: bench/go/sieve.go.
 *
 * usage: bench_sieve [primes]
 */
#include <stdlib.h>

#include "bench_util.h"

#define NAME "sieve"

typedef struct filter_arg {
  tt_chan *in, *out;
  int64_t prime;
} filter_arg;

static int64_t g_primes;
static double g_ms;

static void generate(void *arg) {
  tt_chan *out = arg;
  for (int64_t i = 2;; i++) {
    int rc = tt_chan_send(out, &i);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send: %s", tt_strerror(rc));
  }
}

static void filter(void *arg) {
  filter_arg *f = arg;
  for (;;) {
    int64_t i;
    int rc = tt_chan_recv(f->in, &i);
    if (rc == 0 && i % f->prime != 0)
      rc = tt_chan_send(f->out, &i);
    if (rc < 0)
      bench_fail(NAME, "filter %lld: %s", (long long)f->prime, tt_strerror(rc));
  }
}

/* The first n primes by trial division against the smaller ones. */
static int64_t *reference_primes(int64_t n) {
  int64_t *p = malloc((size_t)n * sizeof *p);
  if (!p)
    bench_fail(NAME, "out of memory");
  int64_t k = 0;
  for (int64_t c = 2; k < n; c++) {
    int prime = 1;
    for (int64_t j = 0; j < k && p[j] * p[j] <= c; j++)
      if (c % p[j] == 0) {
        prime = 0;
        break;
      }
    if (prime)
      p[k++] = c;
  }
  return p;
}

static void bench_main(void *arg) {
  (void)arg;
  int64_t *want = reference_primes(g_primes);
  int64_t *got = malloc((size_t)g_primes * sizeof *got);
  filter_arg *fa = malloc((size_t)g_primes * sizeof *fa);
  if (!got || !fa)
    bench_fail(NAME, "out of memory");
  int64_t t0 = tt_now();
  tt_chan *ch = tt_chan_make(sizeof(int64_t), 0);
  if (!ch)
    bench_fail(NAME, "out of memory");
  int64_t id = tt_go(generate, ch);
  if (id <= 0)
    bench_fail(NAME, "tt_go: %s", tt_strerror((int)id));
  for (int64_t i = 0; i < g_primes; i++) {
    int rc = tt_chan_recv(ch, &got[i]);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
    tt_chan *next = tt_chan_make(sizeof(int64_t), 0);
    if (!next)
      bench_fail(NAME, "out of memory");
    fa[i] = (filter_arg){ch, next, got[i]};
    id = tt_go(filter, &fa[i]);
    if (id <= 0)
      bench_fail(NAME, "tt_go: %s", tt_strerror((int)id));
    ch = next;
  }
  int64_t t1 = tt_now();
  for (int64_t i = 0; i < g_primes; i++)
    if (got[i] != want[i])
      bench_fail(NAME, "prime #%lld is %lld, expected %lld", (long long)(i + 1), (long long)got[i],
                 (long long)want[i]);
  fprintf(stderr, "%s: prime #%lld is %lld\n", NAME, (long long)g_primes,
          (long long)got[g_primes - 1]);
  /* fa and the channels stay with the blocked tasks, which are dropped. */
  free(want);
  free(got);
  g_ms = (double)(t1 - t0) / 1e6;
  bench_result(NAME, g_ms, "ms");
}

int main(int argc, char **argv) {
  g_primes = bench_arg(argc, argv, 1, 5000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ms <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
