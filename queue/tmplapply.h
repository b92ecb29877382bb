/* tmplapply.h — apply a config template (conf/template.h) to a parsed job
 * (queue/codec.h). Here rather than in conf/, which does not include queue/.
 * Pure: no I/O, no clock, no globals. */
#ifndef QUEUE_TMPLAPPLY_H
#define QUEUE_TMPLAPPLY_H

#include <stddef.h>

#include "conf/config.h"
#include "queue/codec.h"

/* Apply job->template_name from c to the job: render its prompt into
 * job->prompt and, unless the job set "operation" itself, take the
 * template's operation; an edit then needs image_urls. A job without a
 * template is left alone. SY_OK, or SY_ERR with the reason in err (the job
 * is then invalid input: 'template: unknown template "x"', 'vars.style:
 * missing (template "restyle" needs it)', ...). */
int tmpl_apply(const struct conf *c, struct codec_job *job, char *err, size_t errlen);

#endif
