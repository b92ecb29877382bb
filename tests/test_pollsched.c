/* test_pollsched.c — when a job polls next: fixed settings, the plan, the
 * safety poll under callbacks; when a finished task asks to replan the first
 * polls; the first-poll list. Simulated time only. */
#include "worker/pollsched.h"

#include <criterion/criterion.h>
#include <stddef.h>

#include "testutil.h"

static const struct conf_poll settings = { .first_ms = 5000,
                                           .interval_ms = 3000,
                                           .max_s = 900,
                                           .mode = CONF_POLL_ADAPTIVE,
                                           .max_lag_ms = 1000,
                                           .expect_median_ms = 20000,
                                           .expect_sigma = 0.3,
                                           .min_interval_ms = 500,
                                           .max_interval_ms = 30000 };

Test(pollsched, delay_sources)
{
    cr_assert_eq(pollsched_delay_ms(NULL, &settings, 0, 60000, 0, 1), 5000, "no plan: first_ms");
    cr_assert_eq(pollsched_delay_ms(NULL, &settings, 0, 60000, 9000, 0), 3000,
                 "no plan: interval_ms");
    cr_assert_eq(pollsched_delay_ms(NULL, &settings, 1, 60000, 0, 1), 60000,
                 "callbacks on: the safety poll");
    struct pollplan *pp = pollplan_new(&settings);
    cr_assert_not_null(pp);
    cr_assert_eq(pollsched_delay_ms(pp, &settings, 0, 60000, 0, 1), pollplan_next_ms(pp, 0, 1),
                 "the plan decides");
    cr_assert_eq(pollsched_delay_ms(pp, &settings, 1, 60000, 0, 1), 60000,
                 "callbacks win over the plan");
    pollplan_free(pp);
    assert_no_leaks();
}

/* Every 8th of the first 64 observations asks to replan; never without a plan. */
Test(pollsched, observe_asks_to_replan_while_young)
{
    cr_assert_eq(pollsched_observe_done(NULL, -1, 20000, -1), 0);
    struct pollplan *pp = pollplan_new(&settings);
    int asks = 0;
    for (int i = 1; i <= 100; i++) {
        int r = pollsched_observe_done(pp, i % 2 ? 18000 : -1, 21000, i % 3 ? -1 : 20000);
        cr_assert_eq(r, i % 8 == 0 && i <= 64, "observation %d", i);
        asks += r;
    }
    cr_assert_eq(asks, 8);
    cr_assert_eq(pollplan_observations(pp), 100);
    pollplan_free(pp);
    assert_no_leaks();
}

static void count(struct pollsched_entry *e, void *ud)
{
    (void)e;
    ++*(int *)ud;
}

Test(pollsched, first_poll_list)
{
    struct pollsched_entry *head = NULL, a = { 0 }, b = { 0 }, c = { 0 };
    pollsched_list(&head, &a);
    pollsched_list(&head, &b);
    pollsched_list(&head, &c);
    int n = 0;
    pollsched_each(head, count, &n);
    cr_assert_eq(n, 3);
    pollsched_unlist(&head, &b); /* the middle */
    cr_assert_eq(head, &c);
    cr_assert_eq(c.next, &a);
    cr_assert_eq(a.prev, &c);
    pollsched_unlist(&head, &b); /* not listed: nothing */
    pollsched_unlist(&head, &c); /* the head */
    cr_assert_eq(head, &a);
    cr_assert_null(a.prev);
    pollsched_unlist(&head, &a);
    cr_assert_null(head);
    cr_assert(!a.listed && !b.listed && !c.listed);
    n = 0;
    pollsched_each(head, count, &n);
    cr_assert_eq(n, 0);
}
