/* taskmap.h — provider task id → job, so a callback finds its job.
 *
 * Keys are (provider name, task id) pairs, copied; values are borrowed
 * pointers. Loop thread only (no locking). Every call is O(1) on average. */
#ifndef WORKER_TASKMAP_H
#define WORKER_TASKMAP_H

#include <stddef.h>

struct taskmap;

/* An empty map, or NULL on out of memory. Free with taskmap_free(). */
struct taskmap *taskmap_new(void);
void taskmap_free(struct taskmap *m); /* NULL ok; values are not touched */

/* Map (provider, task_id) to v, replacing an older value. SY_OK / SY_ERR (out of memory). */
int taskmap_put(struct taskmap *m, const char *provider, const char *task_id, void *v);
/* The value, or NULL. */
void *taskmap_get(const struct taskmap *m, const char *provider, const char *task_id);
/* Remove the entry if it maps to v (a newer owner of the key is kept). */
void taskmap_del(struct taskmap *m, const char *provider, const char *task_id, const void *v);
size_t taskmap_size(const struct taskmap *m);

#endif
