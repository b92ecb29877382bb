/* pollsched.h — when a job polls its task next: the provider model's poll
 * plan (or the fixed settings), the slow safety poll while a callback is
 * awaited, what a finished task teaches the plan, and the provider's list of
 * tasks still waiting for their first planned poll (moved while a young plan
 * moves). Pure: no clock, no timer; now comes in, the caller arms. Safe
 * from a loop callback. */
#ifndef WORKER_POLLSCHED_H
#define WORKER_POLLSCHED_H

#include <stdint.h>

#include "conf/config.h"
#include "providers/pollplan.h"

struct pstate;

/* Embedded in a job: its place on its provider's first-poll list. */
struct pollsched_entry {
    struct pollsched_entry *prev, *next;
    int listed;
};

/* Put e on the list at *head (e must not be listed). */
void pollsched_list(struct pollsched_entry **head, struct pollsched_entry *e);
/* Take e off the list at *head; a no-op when it is not listed. */
void pollsched_unlist(struct pollsched_entry **head, struct pollsched_entry *e);
/* Call fn(e, ud) for every entry on the list; fn must not unlist. */
void pollsched_each(struct pollsched_entry *head, void (*fn)(struct pollsched_entry *e, void *ud),
                    void *ud);

/* The poll plan of provider p's model for logical model `model` (edit 1 =
 * the edit operation) on ps, borrowed for the life of the dispatch; NULL =
 * poll on the fixed settings. A model the provider does not map gets no
 * plan: job-chosen names must not use up the plan slots. */
struct pollplan *pollsched_plan(struct pstate *ps, const struct conf_provider *p, const char *model,
                                int edit);

/* The delay before the next poll: after the create (first = 1) or after a
 * poll that saw the task running, since_t0_ms after the create went out.
 * With callbacks on, polling is only the safety net: safety_ms. */
int64_t pollsched_delay_ms(struct pollplan *pp, const struct conf_poll *fixed, int callbacks_on,
                           int64_t safety_ms, int64_t since_t0_ms, int first);

/* A reply says the task finished (either way) at plan time in (pending_ms,
 * now_t0_ms] (pending_ms: the last poll that saw it pending, -1 = none),
 * having run duration_ms by its own word (-1 = not said): teach pp. Returns
 * 1 when the first polls planned from pp should be planned again (while a
 * young plan moves a lot: every 8th of its first 64 observations). */
int pollsched_observe_done(struct pollplan *pp, int64_t pending_ms, int64_t now_t0_ms,
                           int64_t duration_ms);

#endif
