/*
 * tt_blocking_until and tt_blocking_ctx: a blocking call the task may stop
 * waiting for. The job goes to the pool detached (core/blocking.c): the
 * helper owns its record, and the only thing the two sides share is a
 * signal channel with one reference each. The helper sends on it when fn
 * returns and drops its reference; the task waits for that send, the
 * deadline or the context (in "syscall", like tt_blocking), then drops its
 * own. Whichever drops last frees the channel, so neither side ever
 * touches memory the other may have let go: the task's stack in
 * particular is never seen by the helper.
 */
#include "core/runtime.h"
#include "leak/hooks.h"
#include "sync/chan.h"

/* On the helper, when fn has returned. */
static void call_returned(void *p) {
  tt_chan *c = p;
  tt_chan_try_send(c, NULL); /* capacity 1, sent once: never refused */
  tt__chan_unref_raw(c);
}

/* At shutdown, for a call that was still queued: it never runs. */
static void call_dropped(void *p) { tt__chan_unref_raw(p); }

static int bounded(tt_fn fn, void *arg, int64_t deadline, tt_context *ctx) {
  if (!tt__current())
    return TT_ENOTASK;
  if (!fn)
    return TT_EINVAL;
  if (ctx) {
    int err = tt_context_err(ctx);
    if (err)
      return err;
    int64_t cd = tt_context_deadline(ctx);
    deadline = cd < deadline ? cd : deadline;
  }
  if (deadline != TT_NO_DEADLINE && tt_now() >= deadline)
    return ctx && tt_context_err(ctx) ? tt_context_err(ctx) : TT_ETIMEDOUT;
  tt_chan *c = tt__chan_new(0, 1, __FILE__, __LINE__);
  if (!c)
    return TT_ENOMEM;
  tt__root_add(c);     /* a helper thread holds it: whoever waits on it is live */
  tt__chan_ref_raw(c); /* the helper's reference */
  int rc = tt__blocking_detach(fn, arg, call_returned, call_dropped, c);
  if (rc < 0) {
    tt__chan_unref_raw(c);
    tt__chan_unref_raw(c);
    return rc;
  }
  tt_case cases[2] = {tt_case_recv(c, NULL), tt_case_recv(ctx ? tt_context_done(ctx) : NULL, NULL)};
  rc = tt__select_as(cases, ctx ? 2 : 1, 0, deadline, TT_WAIT_SYSCALL);
  tt__chan_unref_raw(c);
  if (rc == 0)
    return 0; /* fn returned (it wins over a context done at the same time) */
  if (rc == 1 || rc == TT_ETIMEDOUT) {
    int err = ctx ? tt_context_err(ctx) : 0;
    return err ? err : TT_ETIMEDOUT;
  }
  return rc;
}

int tt_blocking_until(tt_fn fn, void *arg, int64_t deadline) {
  return bounded(fn, arg, deadline, NULL);
}

int tt_blocking_ctx(tt_fn fn, void *arg, tt_context *ctx) {
  if (!ctx)
    return TT_EINVAL;
  return bounded(fn, arg, TT_NO_DEADLINE, ctx);
}
