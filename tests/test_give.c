/*
 * test_give: the references tt_spawn_opts.give_* hands a new task. The
 * runtime takes one per handle at the spawn and, when the task returns,
 * releases whatever of it the task has not released itself: no more (the
 * handle would be freed under someone still holding it), no less (it would
 * never be freed). References the task takes for itself and passes on are
 * not the runtime's to release.
 */
#include "harness.h"

static tt_chan *g_chan, *g_chan_extra;
static tt_context *g_ctx, *g_ctx_extra;
static tt_owner *g_owner, *g_owner_extra;

/* ---- the task releases the handed reference itself ----------------------- */

static void drops_handed(void *arg) {
  (void)arg;
  CHECK_EQ(tt_chan_unref(g_chan), TT_OK);
  CHECK_EQ(tt_context_unref(g_ctx), TT_OK);
  CHECK_EQ(tt_owner_unref(g_owner), TT_OK);
}

static void test_task_drops_handed(void) {
  g_chan = tt_chan_make(sizeof(int), 1);
  g_ctx = tt_with_cancel(NULL);
  g_owner = tt_owner_make();
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go_opts(wg, drops_handed, NULL,
                      &(tt_spawn_opts){
                          .give_chans = {g_chan}, .give_ctx = g_ctx, .give_owner = g_owner}) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  /* Our references are still good: the task's exit released nothing more. */
  int v = 7;
  CHECK_EQ(tt_chan_send(g_chan, &v), TT_OK);
  CHECK_EQ(tt_chan_recv(g_chan, &v), TT_OK);
  CHECK_EQ(v, 7);
  tt_context *child = tt_with_cancel(g_ctx);
  CHECK_EQ(tt_cancel(g_ctx), TT_OK);
  CHECK_EQ(tt_context_err(child), TT_ECANCELED);
  CHECK_EQ(tt_context_release(child), TT_OK);
  CHECK_EQ(tt_context_unref(g_ctx), TT_OK);
  tt_chan *adopted = tt_chan_make(sizeof(int), 0);
  CHECK_EQ(tt_owner_adopt_chan(g_owner, adopted), TT_OK);
  CHECK_EQ(tt_owner_unref(g_owner), TT_OK);
  /* Each was released exactly once more than it was taken: gone. */
  CHECK_EQ(tt_chan_unref(g_chan), TT_OK);
}

/* ---- the task takes references of its own and hands them on --------------- */

static void keeps_its_own(void *arg) {
  (void)arg;
  g_chan_extra = tt_chan_ref(g_chan);
  g_ctx_extra = tt_context_ref(g_ctx);
  g_owner_extra = tt_owner_ref(g_owner);
  /* and returns with the handed ones still held: the runtime drops those */
}

static void test_task_passes_own_refs(void) {
  g_chan = tt_chan_make(sizeof(int), 1);
  g_ctx = tt_with_cancel(NULL);
  g_owner = tt_owner_make();
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go_opts(wg, keeps_its_own, NULL,
                      &(tt_spawn_opts){
                          .give_chans = {g_chan}, .give_ctx = g_ctx, .give_owner = g_owner}) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  /* Drop ours: the references the task took are all that is left. */
  CHECK_EQ(tt_chan_unref(g_chan), TT_OK);
  CHECK_EQ(tt_context_unref(g_ctx), TT_OK);
  CHECK_EQ(tt_owner_unref(g_owner), TT_OK);
  int v = 9;
  CHECK_EQ(tt_chan_send(g_chan_extra, &v), TT_OK);
  CHECK_EQ(tt_chan_recv(g_chan_extra, &v), TT_OK);
  CHECK_EQ(v, 9);
  CHECK_EQ(tt_context_err(g_ctx_extra), 0);
  CHECK_EQ(tt_cancel(g_ctx_extra), TT_OK);
  CHECK_EQ(tt_context_err(g_ctx_extra), TT_ECANCELED);
  tt_chan *adopted = tt_chan_make(sizeof(int), 0);
  CHECK_EQ(tt_owner_adopt_chan(g_owner_extra, adopted), TT_OK);
  CHECK_EQ(tt_chan_unref(g_chan_extra), TT_OK);
  CHECK_EQ(tt_context_unref(g_ctx_extra), TT_OK);
  CHECK_EQ(tt_owner_unref(g_owner_extra), TT_OK);
}

/* ---- a ref and an unref inside the task leave the handed one to the runtime -- */

static void refs_and_unrefs(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++) {
    CHECK(tt_chan_ref(g_chan) == g_chan);
    CHECK(tt_context_ref(g_ctx) == g_ctx);
  }
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tt_chan_unref(g_chan), TT_OK);
    CHECK_EQ(tt_context_unref(g_ctx), TT_OK);
  }
}

static void test_balanced_inside(void) {
  g_chan = tt_chan_make(sizeof(int), 1);
  g_ctx = tt_with_cancel(NULL);
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go_opts(wg, refs_and_unrefs, NULL,
                      &(tt_spawn_opts){.give_chans = {g_chan}, .give_ctx = g_ctx}) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  int v = 3;
  CHECK_EQ(tt_chan_send(g_chan, &v), TT_OK);
  CHECK_EQ(tt_context_err(g_ctx), 0);
  CHECK_EQ(tt_context_release(g_ctx), TT_OK);
  CHECK_EQ(tt_chan_unref(g_chan), TT_OK);
}

static void give_main(void *arg) {
  (void)arg;
  test_task_drops_handed();
  test_task_passes_own_refs();
  test_balanced_inside();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(60);
  RUN_MAIN(1, give_main, NULL);
  RUN_MAIN(2, give_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
