/* jobreq.c — a job's HTTP side: how its requests are sent (the provider's
 * timeouts, cut to the job's deadline), how a reply is read and counted in
 * metrics, the best-effort cancel of a task given up on, and the callback
 * URL a create carries. The job's decisions stay in job.c / jobpolicy.c. */
#include <stdio.h>
#include <stdlib.h>

#include "providers/prov_util.h"
#include "worker/job_int.h"
#include "worker/metrics.h"
#include "core/sy.h"

/* How requests to the job's provider are sent: the provider's request
 * timeout, cut to what is left before the deadline unless whole_timeout. */
struct loop_send jobreq_send_opts(const struct job *j, int whole_timeout)
{
    long t = j->prov->request_timeout_ms;
    int64_t left = j->deadline_ms - sy_now_ms();
    if (!whole_timeout && left < t)
        t = left > 0 ? (long)left : 1;
    struct loop_send s = { .bearer = j->prov->api_key,
                           .proxy = j->prov->proxy,
                           .connect_timeout_ms = j->prov->connect_timeout_ms,
                           .total_timeout_ms = t };
    return s;
}

/* The status label of a finished request, for metrics. */
static long metrics_status(const struct loop_response *resp)
{
    if (resp->failure == PROV_C_TIMEOUT)
        return METRICS_ST_TIMEOUT;
    if (resp->failure != PROV_C_NONE || resp->reply.http_status <= 0)
        return METRICS_ST_TRANSPORT;
    return resp->reply.http_status;
}

/* ud: the provider's pstate (lives as long as the process's dispatch). */
static void cancel_done(void *ud, const struct loop_response *resp)
{
    struct pstate *ps = ud;
    metrics_request(ps->metrics, ps->name, METRICS_CANCEL, metrics_status(resp),
                    (double)resp->elapsed_ms / 1000.0);
}

/* Best effort: tell the provider to stop a task we give up on. */
void jobreq_cancel(struct job *j)
{
    if (!j->ops || !j->ops->build_cancel || !j->task_id)
        return;
    struct prov_request req = { 0 };
    if (j->ops->build_cancel(j->prov, j->task_id, &req) != SY_OK) {
        prov_request_cleanup(&req);
        return;
    }
    struct loop_send s = jobreq_send_opts(j, 1); /* a cancel may outlive the deadline */
    j->ps->metrics = j->e->m;
    loop_http(j->e->loop, &req, &s, cancel_done, j->ps);
}

/* The reply to the job's request, parsed (a transport failure becomes a
 * failed result); the job has no request in flight any more. */
void jobreq_read_reply(struct job *j, const struct loop_response *resp,
                       void (*parse)(const struct prov_reply *, struct prov_result *),
                       struct prov_result *res)
{
    j->req = NULL;
    metrics_request(j->e->m, j->ps->name, j->phase == PHASE_POLL ? METRICS_POLL : METRICS_CREATE,
                    metrics_status(resp), (double)resp->elapsed_ms / 1000.0);
    prov_result_init(res);
    if (resp->failure == PROV_C_NONE) {
        parse(&resp->reply, res);
        return;
    }
    res->cls = resp->failure;
    res->kind = PROV_K_UNAVAILABLE;
    res->outcome = PROV_FAILED;
    snprintf(res->message, sizeof res->message, "%s", resp->error);
}

/* {callbacks.public_url}/cb/<provider>/<partition or "b">/<job id, escaped>,
 * or NULL when callbacks are off (or out of memory: then the job polls). */
char *jobreq_callback_url(const struct job *j)
{
    if (!j->e->callback_base)
        return NULL;
    char part[16] = "b", *url = NULL;
    if (j->partition >= 0)
        snprintf(part, sizeof part, "%d", (int)j->partition);
    char *id = prov_url_escape(j->spec->id);
    if (id && asprintf(&url, "%s/cb/%s/%s/%s", j->e->callback_base, j->prov->name, part, id) < 0)
        url = NULL;
    free(id);
    return url;
}
