/*
 * tether_leaky: the seed's leak patterns written with tether, at known
 * counts, dumped twice in every format tether writes (DIR/tt-1.debug2,
 * .debug1, .pb.gz, .json, then tt-2.*), with more of each leaked in
 * between. Each leaking task is spawned on a line marked "// P:<pattern>"
 * and blocks on a line marked "// B:<pattern>"; check_tether.sh finds the
 * lines by their markers and expects the counts below.
 *
 * The self-wait (seed pattern 3) is the one tether's leak detector proves:
 * its task holds the only reference to its channel, so tt_leak_check marks
 * it leaked before each dump and the analyzer must show it as proven.
 */
#include <stdio.h>
#include <stdlib.h>
#include <tether.h>

/* Per snapshot: how many leak before it (check_tether.sh repeats these). */
enum { SENDER1 = 2, SENDER2 = 3, RECEIVER1 = 2, RECEIVER2 = 1, POOL1 = 6, POOL2 = 6 };
enum { SELECT1 = 2, SELECT2 = 2, MUTEX1 = 2, MUTEX2 = 1, WG1 = 1, WG2 = 1, COND1 = 1, COND2 = 2 };
enum { SELF1 = 1, SELF2 = 1 };

static tt_mutex held;
static tt_mutex cmu;
static tt_cond cond;
static tt_chan *kept[64]; /* the channels the leaking tasks wait on stay alive */
static int nkept;
static tt_wg *wgs[8];
static int nwgs;
static tt_chan *self_chans[8];
static int nself;

static tt_chan *keep(tt_chan *c) {
  if (!c || nkept == 64)
    abort();
  kept[nkept++] = c;
  return c;
}

static void sender(void *arg) {
  int v = 42;
  tt_chan_send(arg, &v); // B:sender
}

static void receiver(void *arg) {
  tt_chan_recv(arg, NULL); // B:receiver
}

static void worker(void *arg) {
  while (tt_chan_recv(arg, NULL) == 0) // B:pool
    ;
}

static void selecter(void *arg) {
  tt_chan **ch = arg;
  tt_case cs[2] = {tt_case_recv(ch[0], NULL), tt_case_recv(ch[1], NULL)};
  tt_select(cs, 2, 0, TT_NO_DEADLINE); // B:select
}

static void locker(void *arg) {
  (void)arg;
  tt_mutex_lock(&held); // B:mutex
}

static void wg_waiter(void *arg) {
  tt_wg_wait(arg); // B:waitgroup
}

static void cond_waiter(void *arg) {
  (void)arg;
  tt_mutex_lock(&cmu);
  tt_cond_wait(&cond, &cmu); // B:cond
  tt_mutex_unlock(&cmu);
}

/* Receives from its own channel, which only it holds: nothing can wake it. */
static void self_waiter(void *arg) {
  int v;
  tt_chan_recv(arg, &v); // B:selfwait
  tt_chan_send(arg, &v);
}

/* Made and handed over by a task that then ends, so that the waiter's is
 * the only reference left anywhere. */
static void spawn_self_waiter(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_go_opts(self_waiter, c, &(tt_spawn_opts){.give_chans = {c}}); // P:selfwait
  /* Remembered only for LeakSanitizer, which would otherwise report the
   * channel the dropped task holds at exit; tether's detector does not see
   * globals, so the waiter still holds the only reference it knows of. */
  self_chans[nself++ % 8] = c;
  tt_chan_unref(c);
}

static void leak(int sender_n, int receiver_n, int pool_n, int select_n, int mutex_n, int wg_n,
                 int cond_n, int self_n) {
  for (int i = 0; i < sender_n; i++)
    tt_go(sender, keep(tt_chan_make(sizeof(int), 0))); // P:sender
  for (int i = 0; i < receiver_n; i++)
    tt_go(receiver, keep(tt_chan_make(sizeof(int), 0))); // P:receiver
  tt_chan *jobs = keep(tt_chan_make(sizeof(int), 0));
  for (int i = 0; i < pool_n; i++)
    tt_go(worker, jobs); // P:pool
  static tt_chan *pairs[16][2];
  static int npairs;
  for (int i = 0; i < select_n; i++, npairs++) {
    pairs[npairs][0] = keep(tt_chan_make(sizeof(int), 0));
    pairs[npairs][1] = keep(tt_chan_make(sizeof(int), 0));
    tt_go(selecter, pairs[npairs]); // P:select
  }
  for (int i = 0; i < mutex_n; i++)
    tt_go(locker, NULL); // P:mutex
  for (int i = 0; i < wg_n; i++) {
    tt_wg *wg = wgs[nwgs++] = tt_wg_make();
    tt_wg_add(wg, 1);
    tt_go(wg_waiter, wg); // P:waitgroup
  }
  for (int i = 0; i < cond_n; i++)
    tt_go(cond_waiter, NULL); // P:cond
  for (int i = 0; i < self_n; i++)
    tt_go(spawn_self_waiter, NULL);
}

static const char *dir;

static void dump(int snap) {
  static const struct {
    const char *ext;
    tt_dump_format fmt;
  } formats[] = {{"debug2", TT_DUMP_GO_DEBUG2},
                 {"debug1", TT_DUMP_GO_DEBUG1},
                 {"pb.gz", TT_DUMP_PPROF},
                 {"json", TT_DUMP_JSON},
                 {"leaked.pb.gz", TT_DUMP_PPROF_LEAKED}};
  tt_sleep(50 * 1000000); /* every new task reaches its wait */
  tt_leak_check();
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tt-%d.%s", dir, snap, formats[i].ext);
    FILE *f = fopen(path, "wb");
    if (!f || tt_dump_as(f, formats[i].fmt) != 0) {
      fprintf(stderr, "tether_leaky: cannot write %s\n", path);
      exit(1);
    }
    fclose(f);
  }
}

static void main_task(void *arg) {
  (void)arg;
  tt_mutex_lock(&held); /* never unlocked: the lockers wait for good */
  leak(SENDER1, RECEIVER1, POOL1, SELECT1, MUTEX1, WG1, COND1, SELF1);
  dump(1);
  leak(SENDER2, RECEIVER2, POOL2, SELECT2, MUTEX2, WG2, COND2, SELF2);
  dump(2);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tether_leaky DIR\n");
    return 2;
  }
  dir = argv[1];
  return tt_main(main_task, NULL) != 0;
}
