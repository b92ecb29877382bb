/* tmplapply.c — a job's template: render its prompt and settle its
 * operation (tmplapply.h). */
#include "queue/tmplapply.h"

#include <stdio.h>

#include "conf/template.h"
#include "core/sy.h"

int tmpl_apply(const struct conf *c, struct codec_job *job, char *err, size_t errlen)
{
    if (!job->template_name)
        return SY_OK;
    const struct conf_template *t = conf_template_by_name(c, job->template_name);
    if (!t) {
        snprintf(err, errlen, "template: unknown template \"%s\"", job->template_name);
        return SY_ERR;
    }
    if (job->prompt) { /* the codec refuses this; kept for jobs built by hand */
        snprintf(err, errlen,
                 "prompt: not allowed together with template (the template makes the prompt)");
        return SY_ERR;
    }
    enum codec_op op = job->op;
    if (!job->op_set && t->op != CONF_OP_UNSET)
        op = t->op == CONF_OP_EDIT ? CODEC_OP_EDIT : CODEC_OP_GENERATE;
    if (op == CODEC_OP_EDIT && job->n_image_urls == 0) {
        snprintf(err, errlen,
                 "image_urls: required for operation edit (template \"%s\" edits the job's image)",
                 t->name);
        return SY_ERR;
    }
    char *prompt;
    if (tmpl_render(t, job->vars, &prompt, err, errlen) != SY_OK)
        return SY_ERR;
    job->prompt = prompt;
    job->op = op;
    return SY_OK;
}
