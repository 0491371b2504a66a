/*
 * context_cancel: make a cancellable context and cancel it, N times. The
 * main task makes one cancellable parent, then runs N times
 * tt_with_cancel(parent), tt_cancel (must return 0) and tt_context_unref
 * (the C side frees what Go's garbage collector frees); every 1,024th child
 * is checked to report TT_ECANCELED and a closed done channel. Reports ns
 * per make+cancel(+free) of a child of that parent: the child is linked
 * into the parent's list of children and unlinked again. The same loop with
 * tt_background() as the parent (nothing to link) is timed first and
 * printed on stderr. Go twin: bench/go/context_cancel.go
 * (context.WithCancel(parent), cancel()).
 *
 * usage: bench_context_cancel [contexts]
 */
#include "bench_util.h"

#define NAME "context_cancel"

static int64_t g_n;
static double g_ns_per_op;

/* N children of parent, each made, cancelled and released; ns per child. */
static double run(tt_context *parent) {
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_n; i++) {
    tt_context *c = tt_with_cancel(parent);
    if (!c)
      bench_fail(NAME, "tt_with_cancel returned NULL");
    int rc = tt_cancel(c);
    if (rc != 0)
      bench_fail(NAME, "tt_cancel returned %d", rc);
    if ((i & 1023) == 0) {
      if (tt_context_err(c) != TT_ECANCELED)
        bench_fail(NAME, "the cancelled context reports %d", tt_context_err(c));
      if (tt_chan_try_recv(tt_context_done(c), NULL) != TT_ECLOSED)
        bench_fail(NAME, "the done channel of a cancelled context is not closed");
    }
    rc = tt_context_unref(c);
    if (rc < 0)
      bench_fail(NAME, "tt_context_unref: %s", tt_strerror(rc));
  }
  int64_t t1 = tt_now();
  return (double)(t1 - t0) / (double)g_n;
}

static void bench_main(void *arg) {
  (void)arg;
  double bg = run(tt_background());
  tt_context *parent = tt_with_cancel(NULL);
  if (!parent)
    bench_fail(NAME, "out of memory");
  g_ns_per_op = run(parent);
  if (tt_context_err(parent) != 0)
    bench_fail(NAME, "the parent was cancelled");
  tt_context_release(parent);
  if (tt_context_lost_cancels() != 0)
    bench_fail(NAME, "%lld lost cancels", (long long)tt_context_lost_cancels());
  fprintf(stderr, "%s: child of background %.1f ns, child of a cancellable parent %.1f ns\n", NAME,
          bg, g_ns_per_op);
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 2000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
